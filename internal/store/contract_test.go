package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// storeFactory makes one fresh, empty backing store and returns a function
// that opens a handle on it; two handles share the data, as two processes
// would. A PostgreSQL implementation runs the same contract with its own
// factory.
type storeFactory func(t *testing.T) (open func() Store)

// runContract checks the behaviour pki relies on from any Store.
func runContract(t *testing.T, fresh storeFactory) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, open func() Store)
	}{
		{"CertificateRoundTripAndUniqueness", contractRoundTrip},
		{"Revoke", contractRevoke},
		{"AuditLog", contractAuditLog},
		{"LastEventSeq", contractLastEventSeq},
		{"KeyValueAndLocks", contractKeyValueAndLocks},
		{"ConcurrentWritesAllCommitted", contractConcurrentWrites},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, fresh(t)) })
	}
}

func TestSQLiteContract(t *testing.T) {
	runContract(t, func(t *testing.T) func() Store {
		path := filepath.Join(t.TempDir(), "ca.db")
		return func() Store {
			s, err := OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

func contractRoundTrip(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	na := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.PutCertificate(ctx, cert("0abc", na), Event{Action: "issue", Serial: "0abc"}); err != nil {
		t.Fatal(err)
	}
	err := s.PutCertificate(ctx, cert("0abc", na), Event{Action: "issue", Serial: "0abc"})
	if !errors.Is(err, ErrDuplicateSerial) {
		t.Fatalf("second certificate with the same serial: got %v, want ErrDuplicateSerial", err)
	}
	got, err := s.Certificate(ctx, "0abc")
	if err != nil {
		t.Fatal(err)
	}
	if !got.NotAfter.Equal(na) || len(got.SANs) != 2 || got.SANs[1] != "10.0.0.1" || string(got.DER) != "\x01\x02\x03" || got.Revoked() {
		t.Fatalf("round trip changed the certificate: %+v", got)
	}
	if _, err := s.Certificate(ctx, "ffff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown serial: got %v, want ErrNotFound", err)
	}
	// The failed duplicate must not have left an audit entry behind.
	evs, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("audit log has %d entries after one issuance and one refused duplicate, want 1", len(evs))
	}
}

func contractRevoke(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	now := time.Now()
	for i, sn := range []string{"01", "02", "03"} {
		if err := s.PutCertificate(ctx, cert(sn, now.Add(time.Duration(i+1)*time.Hour)), Event{Action: "issue"}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.Revoke(ctx, Revocation{Serial: "02", Reason: 1, RevokedAt: at}, Event{Action: "revoke", Serial: "02"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, Revocation{Serial: "02", Reason: 4, RevokedAt: at}, Event{Action: "revoke"}); !errors.Is(err, ErrAlreadyRevoked) {
		t.Fatalf("revoking twice: got %v, want ErrAlreadyRevoked", err)
	}
	if err := s.Revoke(ctx, Revocation{Serial: "99", Reason: 1, RevokedAt: at}, Event{Action: "revoke"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoking an unknown serial: got %v, want ErrNotFound", err)
	}
	c, err := s.Certificate(ctx, "02")
	if err != nil {
		t.Fatal(err)
	}
	if !c.RevokedAt.Equal(at) || c.RevocationReason != 1 {
		t.Fatalf("revocation not recorded: %+v", c)
	}
	revs, err := s.Revocations(ctx, "intermediate")
	if err != nil || len(revs) != 1 || revs[0].Serial != "02" {
		t.Fatalf("Revocations = %+v, %v", revs, err)
	}
	list, err := s.Certificates(ctx, ListFilter{OnlyRevoked: true})
	if err != nil || len(list) != 1 || list[0].Serial != "02" {
		t.Fatalf("OnlyRevoked listing = %+v, %v", list, err)
	}
	all, err := s.Certificates(ctx, ListFilter{})
	if err != nil || len(all) != 3 || all[0].Serial != "01" || all[0].DER != nil {
		t.Fatalf("full listing = %+v, %v", all, err)
	}
	exp, err := s.Certificates(ctx, ListFilter{NotAfterTo: now.Add(90 * time.Minute)})
	if err != nil || len(exp) != 1 || exp[0].Serial != "01" {
		t.Fatalf("expiring listing = %+v, %v", exp, err)
	}
}

func contractKeyValueAndLocks(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	if _, err := s.Get(ctx, "meta/x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	for _, k := range []string{"meta/a", "meta/b", "acme/z"} {
		if err := s.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "meta/a", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "meta/a"); err != nil || string(v) != "new" {
		t.Fatalf("Get after overwrite = %q, %v", v, err)
	}
	keys, err := s.List(ctx, "meta/")
	if err != nil || len(keys) != 2 || keys[0] != "meta/a" {
		t.Fatalf("List(meta/) = %v, %v", keys, err)
	}
	if err := s.Delete(ctx, "meta/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "meta/a"); !errors.Is(err, ErrNotFound) {
		t.Fatal("key still there after Delete")
	}

	// A second handle on the same file stands for a second process.
	other := open()
	if err := s.Lock(ctx, "renew", time.Minute); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := other.Lock(short, "renew", time.Minute); err == nil {
		t.Fatal("a held lock was taken a second time")
	}
	if err := s.Unlock(ctx, "renew"); err != nil {
		t.Fatal(err)
	}
	if err := other.Lock(ctx, "renew", time.Minute); err != nil {
		t.Fatalf("lock not free after Unlock: %v", err)
	}
	// An expired lock is taken over.
	if err := s.Lock(ctx, "short", time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	later, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := other.Lock(later, "short", time.Minute); err != nil {
		t.Fatalf("expired lock not taken over: %v", err)
	}
}

func contractConcurrentWrites(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				sn := fmt.Sprintf("%02x%04x", w, i)
				errs <- s.PutCertificate(ctx, cert(sn, time.Now()), Event{Action: "issue", Serial: sn})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Certificates(ctx, ListFilter{})
	if err != nil || len(all) != workers*each {
		t.Fatalf("%d certificates recorded, want %d (%v)", len(all), workers*each, err)
	}
}

func contractAuditLog(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	for i := range 3 {
		if err := s.AppendEvent(ctx, Event{Action: "test", Detail: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.Events(ctx, 1, 0)
	if err != nil || len(evs) != 2 || evs[0].Seq != 2 || evs[1].Detail != "2" {
		t.Fatalf("Events(after 1) = %+v, %v", evs, err)
	}
	if evs, _ := s.Events(ctx, 0, 1); len(evs) != 1 || evs[0].Seq != 1 {
		t.Fatalf("Events(limit 1) = %+v", evs)
	}
}

// contractLastEventSeq: a reader that starts following the audit log at
// LastEventSeq sees exactly what is written afterwards, from any handle.
func contractLastEventSeq(t *testing.T, open func() Store) {
	ctx := context.Background()
	s, other := open(), open()
	if seq, err := s.LastEventSeq(ctx); err != nil || seq != 0 {
		t.Fatalf("LastEventSeq of an empty log = %d, %v; want 0", seq, err)
	}
	for i := range 3 {
		if err := s.AppendEvent(ctx, Event{Action: "test", Detail: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutCertificate(ctx, cert("0a", time.Now()), Event{Action: "issue", Serial: "0a"}); err != nil {
		t.Fatal(err)
	}
	// A refused write draws no entry (PostgreSQL may burn a seq, but no
	// entry commits with it).
	if err := s.PutCertificate(ctx, cert("0a", time.Now()), Event{Action: "issue", Serial: "0a"}); !errors.Is(err, ErrDuplicateSerial) {
		t.Fatalf("duplicate serial: %v", err)
	}
	all, err := s.Events(ctx, 0, 0)
	if err != nil || len(all) != 4 {
		t.Fatalf("Events = %+v, %v; want 4 entries", all, err)
	}
	want := all[len(all)-1].Seq
	for name, h := range map[string]Store{"writer": s, "second handle": other} {
		if seq, err := h.LastEventSeq(ctx); err != nil || seq != want {
			t.Fatalf("LastEventSeq from the %s = %d, %v; want %d (the last entry's seq)", name, seq, err, want)
		}
	}
	if evs, err := other.Events(ctx, want, 0); err != nil || len(evs) != 0 {
		t.Fatalf("Events after LastEventSeq = %+v, %v; want none", evs, err)
	}
	if err := s.Revoke(ctx, Revocation{Serial: "0a", Reason: 1, RevokedAt: time.Now()}, Event{Action: "revoke", Serial: "0a"}); err != nil {
		t.Fatal(err)
	}
	evs, err := other.Events(ctx, want, 0)
	if err != nil || len(evs) != 1 || evs[0].Action != "revoke" || evs[0].Serial != "0a" {
		t.Fatalf("Events after LastEventSeq, following a revocation = %+v, %v; want the revocation alone", evs, err)
	}
	if seq, err := other.LastEventSeq(ctx); err != nil || seq != evs[0].Seq {
		t.Fatalf("LastEventSeq after the revocation = %d, %v; want %d", seq, err, evs[0].Seq)
	}
}
