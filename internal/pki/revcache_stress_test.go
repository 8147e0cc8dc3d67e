package pki

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
)

// TestRevocationEventKeyMatchesLookupKey checks that the key a revocation's
// audit entry yields (ParseSerial of the entry's SerialString) is the key
// a lookup of the certificate's serial uses, for serials whose hex starts
// with a zero nibble, 20-octet serials with the high bit set, and random
// ones of every length a CA issues.
func TestRevocationEventKeyMatchesLookupKey(t *testing.T) {
	hex := func(s string) *big.Int { n, _ := new(big.Int).SetString(s, 16); return n }
	serials := []*big.Int{
		big.NewInt(1), big.NewInt(0x0f), big.NewInt(0x100), big.NewInt(0x0abc),
		hex("0f" + "ff00ff00ff00ff00ff00ff00ff00ff00ff00ff"),   // 20 octets, zero high nibble
		hex("ff" + "0000000000000000000000000000000000000001"), // 21 octets on the wire: high bit set
		hex("80" + "00000000000000000000000000000000000000"),   // 20 octets, high bit set
		new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 160), big.NewInt(1)),
	}
	for range 2000 {
		b := make([]byte, 1+len(serials)%20)
		rand.Read(b)
		n := new(big.Int).SetBytes(b)
		if n.Sign() > 0 {
			serials = append(serials, n)
		}
		m, _ := NewSerial()
		serials = append(serials, m)
	}
	for _, n := range serials {
		var a, b [serialKeyLen]byte
		want, ok := serialKey(&a, n)
		if !ok {
			t.Fatalf("serial %s not keyed", SerialString(n))
		}
		p, err := ParseSerial(SerialString(n))
		if n.BitLen() > 160 {
			continue // ParseSerial refuses; apply then forgets all
		}
		if err != nil {
			t.Fatalf("ParseSerial(SerialString(%x)): %v", n, err)
		}
		got, _ := serialKey(&b, p)
		if string(got) != string(want) {
			t.Fatalf("serial %x: the audit entry's key %x differs from the lookup's %x", n, got, want)
		}
	}
}

// revocationStress has lookups run on many goroutines while serials are
// revoked one after another, through another CA on the same store and
// through the cache's own CA, and fails on any lookup that started more
// than one interval after a revocation returned and still answered good.
func revocationStress(t *testing.T, home string) {
	ctx := context.Background()
	ca, err := Open(ctx, home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	other, err := Open(ctx, home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const n, interval = 30, 20 * time.Millisecond
	serials := make([]*big.Int, n)
	for i := range serials {
		serials[i] = issueClient(t, ca, fmt.Sprint("stress", i))
	}
	rc := ca.RevocationCache(interval)
	var revokedAt [n]atomic.Int64 // UnixNano when Revoke returned
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := i % n
				start := time.Now()
				revoked, _, _, err := rc.IsRevoked(ctx, serials[k])
				if err != nil {
					errc <- err
					return
				}
				if at := revokedAt[k].Load(); !revoked && at != 0 && start.Sub(time.Unix(0, at)) > interval+time.Millisecond {
					errc <- fmt.Errorf("serial %d: a lookup that began %v after its revocation returned answered good", k, start.Sub(time.Unix(0, at)))
					return
				}
			}
		}()
	}
	for k := range n {
		by := other
		if k%3 == 0 {
			by = ca
		}
		if err := by.Revoke(ctx, serials[k], ReasonKeyCompromise); err != nil {
			t.Fatal(err)
		}
		revokedAt[k].Store(time.Now().UnixNano())
		time.Sleep(15 * time.Millisecond)
	}
	time.Sleep(3 * interval)
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestRevocationCacheStressSQLite(t *testing.T) {
	_, home := newTestCA(t, InitOptions{})
	revocationStress(t, home)
}

func TestRevocationCacheStressPostgres(t *testing.T) {
	revocationStress(t, postgresCAHome(t))
}

// TestRevocationCachePageBoundary puts a revocation last in a page of the
// audit log, first in the next one, and beyond two pages.
func TestRevocationCachePageBoundary(t *testing.T) {
	for _, filler := range []int{revocationEventsPage - 1, revocationEventsPage, 2*revocationEventsPage + 3} {
		t.Run(fmt.Sprint(filler), func(t *testing.T) {
			ctx := context.Background()
			ca, home := newTestCA(t, InitOptions{})
			alice, bob := issueClient(t, ca, "alice"), issueClient(t, ca, "bob")
			other, err := Open(ctx, home, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			rc := ca.RevocationCache(time.Nanosecond)
			wantVerdict(t, rc, alice, false)
			wantVerdict(t, rc, bob, false)
			for i := range filler {
				if err := other.store.AppendEvent(ctx, store.Event{Action: "test", Detail: fmt.Sprint(i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := other.Revoke(ctx, alice, ReasonKeyCompromise); err != nil {
				t.Fatal(err)
			}
			if err := other.Revoke(ctx, bob, ReasonKeyCompromise); err != nil {
				t.Fatal(err)
			}
			wantVerdict(t, rc, alice, true)
			wantVerdict(t, rc, bob, true)
		})
	}
}

// TestRevocationCacheGivesUpWaitingForRefresh: a lookup whose context ends
// while another lookup reads the audit log fails, and gives no verdict.
func TestRevocationCacheGivesUpWaitingForRefresh(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	alice := issueClient(t, ca, "alice")
	cs := countStore(ca)
	cs.slowLastSeq = 500 * time.Millisecond
	rc := ca.RevocationCache(time.Hour)
	first := make(chan error, 1)
	go func() {
		_, _, _, err := rc.IsRevoked(context.Background(), alice)
		first <- err
	}()
	for cs.lastSeq.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	revoked, _, _, err := rc.IsRevoked(ctx, alice)
	if !errors.Is(err, context.DeadlineExceeded) || revoked {
		t.Fatalf("lookup given up while the audit log was read = %v, %v; want the context's error", revoked, err)
	}
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first lookup did not end")
	}
}
