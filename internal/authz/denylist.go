package authz

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
)

// DenyKind says what a deny-list entry names.
type DenyKind string

// The deny-list entry kinds.
const (
	DenySerial DenyKind = "serial" // certificate serial number
	DenySPKI   DenyKind = "spki"   // SHA-256 of the public key: every certificate for that key
)

// DenyEntry is one deny-list entry. Value is lowercase hex (a serial without
// leading zeros, a SPKI digest of 64 digits).
type DenyEntry struct {
	Kind  DenyKind `json:"kind"`
	Value string   `json:"value"`
	Note  string   `json:"note,omitempty"`
}

func (e DenyEntry) String() string { return "deny:" + string(e.Kind) + ":" + e.Value }

// DenyList denies identities instantly, regardless of allow rules, by
// certificate serial or public key. It is safe for concurrent use. Servers
// watch Changed to close live connections of newly denied identities.
type DenyList struct {
	mu      sync.RWMutex
	entries map[DenyEntry]string // key has Note "", value is the note
	changed chan struct{}
}

// NewDenyList returns an empty deny-list.
func NewDenyList() *DenyList {
	return &DenyList{entries: map[DenyEntry]string{}, changed: make(chan struct{})}
}

// ParseDenyEntry reads an entry as "serial:HEX" (colons allowed, or a decimal
// number written "serial:dec:NUMBER") or "spki:HEX" / "spki:sha256/BASE64".
func ParseDenyEntry(s string) (DenyEntry, error) {
	kind, v, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return DenyEntry{}, fmt.Errorf("deny entry %q: write serial:HEX or spki:sha256/BASE64", s)
	}
	switch DenyKind(strings.ToLower(kind)) {
	case DenySerial:
		n, err := parseSerial(v)
		if err != nil {
			return DenyEntry{}, fmt.Errorf("deny entry %q: %w", s, err)
		}
		return DenyEntry{Kind: DenySerial, Value: n}, nil
	case DenySPKI:
		h, err := ParseSPKIFingerprint(v)
		if err != nil {
			return DenyEntry{}, fmt.Errorf("deny entry %q: %w", s, err)
		}
		return DenyEntry{Kind: DenySPKI, Value: h}, nil
	}
	return DenyEntry{}, fmt.Errorf("deny entry %q: unknown kind %q; expected serial or spki", s, kind)
}

// parseSerial reads a serial number in hex (optionally with colons, as
// openssl prints it) or, after "dec:", in decimal; it returns lowercase hex
// without leading zeros, the form Identity.Serial has.
func parseSerial(s string) (string, error) {
	n := new(big.Int)
	if d, ok := strings.CutPrefix(s, "dec:"); ok {
		if _, ok := n.SetString(d, 10); !ok || n.Sign() < 0 {
			return "", fmt.Errorf("serial %q is not a non-negative decimal number", d)
		}
		return n.Text(16), nil
	}
	h := strings.ReplaceAll(s, ":", "")
	h = strings.TrimPrefix(strings.TrimPrefix(h, "0x"), "0X")
	if h == "" || len(h) > 128 {
		return "", fmt.Errorf("serial %q: want 1 to 128 hex digits", s)
	}
	if _, ok := n.SetString(h, 16); !ok {
		return "", fmt.Errorf("serial %q is not hexadecimal (for a decimal serial write dec:NUMBER)", s)
	}
	return n.Text(16), nil
}

// Add puts an entry on the list; it reports whether the list changed.
func (d *DenyList) Add(e DenyEntry) bool {
	note := e.Note
	e.Note = ""
	d.mu.Lock()
	defer d.mu.Unlock()
	old, had := d.entries[e]
	d.entries[e] = note
	if had && old == note {
		return false
	}
	d.notifyLocked()
	return true
}

// Remove takes an entry off the list; it reports whether it was there.
func (d *DenyList) Remove(e DenyEntry) bool {
	e.Note = ""
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.entries[e]; !ok {
		return false
	}
	delete(d.entries, e)
	d.notifyLocked()
	return true
}

// Replace swaps the whole list for entries, as when reloading it from a file
// or a store.
func (d *DenyList) Replace(entries []DenyEntry) {
	m := make(map[DenyEntry]string, len(entries))
	for _, e := range entries {
		n := e.Note
		e.Note = ""
		m[e] = n
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries = m
	d.notifyLocked()
}

func (d *DenyList) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next change of the list.
// Call it again after each change to wait for the following one.
func (d *DenyList) Changed() <-chan struct{} {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.changed
}

// Watch calls fn after every change of the list until ctx is done. fn runs on
// Watch's goroutine; changes that happen while fn runs are coalesced into one
// more call.
func (d *DenyList) Watch(ctx context.Context, fn func()) {
	ch := d.Changed()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			// Take the next channel before fn runs so that a change made
			// meanwhile is not missed.
			ch = d.Changed()
			fn()
		}
	}
}

// Denied reports whether the identity is on the list, and by which entry.
// A nil list denies nothing.
func (d *DenyList) Denied(id *Identity) (DenyEntry, bool) {
	if d == nil || id == nil {
		return DenyEntry{}, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, e := range []DenyEntry{{Kind: DenySerial, Value: id.Serial}, {Kind: DenySPKI, Value: id.SPKIFingerprint}} {
		if note, ok := d.entries[e]; ok && e.Value != "" {
			e.Note = note
			return e, true
		}
	}
	return DenyEntry{}, false
}

// Entries returns the entries sorted by kind and value.
func (d *DenyList) Entries() []DenyEntry {
	d.mu.RLock()
	out := make([]DenyEntry, 0, len(d.entries))
	for e, n := range d.entries {
		e.Note = n
		out = append(out, e)
	}
	d.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Value < out[j].Value
	})
	return out
}
