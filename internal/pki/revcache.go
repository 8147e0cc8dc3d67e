package pki

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
)

// DefaultRevocationRefresh is how often a RevocationCache reads the audit
// log for revocations made through other processes.
const DefaultRevocationRefresh = time.Second

const (
	// maxCachedVerdicts bounds a RevocationCache: when it is full it
	// starts over rather than grow.
	maxCachedVerdicts = 100_000
	// revocationEventsPage is how many audit entries one query of a
	// refresh reads.
	revocationEventsPage = 1000
	// serialKeyLen bounds the serials a RevocationCache keeps: RFC 5280
	// allows 20 octets, crypto/x509 accepts a little more; longer ones are
	// asked of the store every time.
	serialKeyLen = 1 + 64
)

// RevocationCache answers what IsRevoked answers, from memory: a gateway
// asks on every request of a client-authenticated route, and a store query
// each time cost more than the rest of the request. Verdicts are kept per
// serial; the audit log tells which to forget. A revocation through the CA
// the cache was made from applies at the next lookup, one through another
// process (tlsgate ca revoke on the same store) within the refresh
// interval. It is safe for concurrent use.
type RevocationCache struct {
	ca       *CA
	interval time.Duration

	// refreshing is held by the one lookup that reads the audit log;
	// the others wait for it, or for their context to end.
	refreshing chan struct{}

	mu       sync.RWMutex
	verdicts map[string]revocationVerdict // by serialKey
	gen      uint64                       // the CA's revocation count the verdicts account for
	lastSeq  int64                        // audit entries up to here are accounted for
	checked  time.Time                    // when the last refresh began; zero before the first
	// forgot counts the times verdicts were forgotten, so that a lookup
	// does not keep a verdict that a revocation seen meanwhile made stale.
	forgot uint64
}

type revocationVerdict struct {
	revoked bool
	reason  Reason
	at      time.Time
}

// RevocationCache returns a cache of this CA's revocation verdicts that
// reads the audit log for revocations by other processes at most once
// per refresh (DefaultRevocationRefresh when refresh <= 0). Nothing is
// read until the first lookup.
func (ca *CA) RevocationCache(refresh time.Duration) *RevocationCache {
	if refresh <= 0 {
		refresh = DefaultRevocationRefresh
	}
	return &RevocationCache{ca: ca, interval: refresh, refreshing: make(chan struct{}, 1), verdicts: map[string]revocationVerdict{}}
}

// IsRevoked answers as (*CA).IsRevoked does: whether the certificate with
// this serial is revoked, why and when; an error wrapping ErrUnknownSerial
// for a serial the CA never issued. When the audit log cannot be read the
// error is returned: no verdict older than the refresh interval is given.
func (c *RevocationCache) IsRevoked(ctx context.Context, serial *big.Int) (revoked bool, reason Reason, at time.Time, err error) {
	var buf [serialKeyLen]byte
	key, ok := serialKey(&buf, serial)
	if !ok {
		return c.ca.IsRevoked(ctx, serial)
	}
	gen := c.ca.revocations.Load()
	c.mu.RLock()
	current := c.gen >= gen
	fresh := !c.checked.IsZero() && time.Since(c.checked) < c.interval
	v, hit := c.verdicts[string(key)]
	c.mu.RUnlock()
	if current && fresh && hit {
		return v.revoked, v.reason, v.at, nil
	}
	if !current {
		c.forgetAll(gen)
	}
	if !fresh {
		if err := c.refresh(ctx); err != nil {
			return false, 0, time.Time{}, err
		}
	}
	// Note how much has been forgotten before asking the store: a
	// revocation that commits after the answer has a later audit entry,
	// and if a refresh applies it before the verdict is kept, the count
	// has moved and the verdict is not kept.
	c.mu.RLock()
	forgot := c.forgot
	v, hit = c.verdicts[string(key)]
	c.mu.RUnlock()
	if hit {
		return v.revoked, v.reason, v.at, nil
	}
	revoked, reason, at, err = c.ca.IsRevoked(ctx, serial)
	if err != nil {
		return revoked, reason, at, err
	}
	c.mu.Lock()
	if c.forgot == forgot {
		if len(c.verdicts) >= maxCachedVerdicts {
			clear(c.verdicts)
		}
		c.verdicts[string(key)] = revocationVerdict{revoked: revoked, reason: reason, at: at}
	}
	c.mu.Unlock()
	return revoked, reason, at, nil
}

// forgetAll drops every verdict after a revocation through the CA itself,
// whose count is now gen.
func (c *RevocationCache) forgetAll(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen < gen {
		clear(c.verdicts)
		c.gen = gen
		c.forgot++
	}
}

// refresh reads the audit log from where the last refresh stopped and
// forgets the verdicts of the serials revoked since. The first one only
// notes where the log ends: nothing is cached yet.
func (c *RevocationCache) refresh(ctx context.Context) error {
	select {
	case c.refreshing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("revocations of the CA in %s: %w", c.ca.dir, ctx.Err())
	}
	defer func() { <-c.refreshing }()
	c.mu.RLock()
	checked, after := c.checked, c.lastSeq
	c.mu.RUnlock()
	if !checked.IsZero() && time.Since(checked) < c.interval {
		return nil // refreshed while this lookup waited
	}
	start := time.Now()
	if checked.IsZero() {
		seq, err := c.ca.store.LastEventSeq(ctx)
		if err != nil {
			return fmt.Errorf("revocations of the CA in %s: read the audit log: %w", c.ca.dir, err)
		}
		c.mu.Lock()
		c.lastSeq, c.checked = seq, start
		c.mu.Unlock()
		return nil
	}
	for {
		evs, err := c.ca.store.Events(ctx, after, revocationEventsPage)
		if err != nil {
			return fmt.Errorf("revocations of the CA in %s: read the audit log after entry %d: %w", c.ca.dir, after, err)
		}
		if len(evs) > 0 {
			after = evs[len(evs)-1].Seq
			c.apply(evs)
		}
		if len(evs) < revocationEventsPage {
			break
		}
	}
	c.mu.Lock()
	c.checked = start
	c.mu.Unlock()
	return nil
}

// apply forgets the verdicts of the serials that evs revoke, and notes that
// the log is accounted for up to the last of them.
func (c *RevocationCache) apply(evs []store.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		if ev.Action != "revoke" {
			continue
		}
		c.forgot++
		n, err := ParseSerial(ev.Serial)
		var buf [serialKeyLen]byte
		key, ok := []byte(nil), false
		if err == nil {
			key, ok = serialKey(&buf, n)
		}
		if !ok {
			clear(c.verdicts) // a revocation of what, cannot tell: forget all
			continue
		}
		delete(c.verdicts, string(key))
	}
	c.lastSeq = evs[len(evs)-1].Seq
}

// serialKey writes the sign and magnitude of n into buf: a map key that
// costs no allocation to look up, unlike SerialString. It reports false
// for a serial too long for buf.
func serialKey(buf *[serialKeyLen]byte, n *big.Int) ([]byte, bool) {
	size := (n.BitLen() + 7) / 8
	if 1+size > len(buf) {
		return nil, false
	}
	buf[0] = byte(n.Sign() + 1)
	n.FillBytes(buf[1 : 1+size])
	return buf[:1+size], true
}
