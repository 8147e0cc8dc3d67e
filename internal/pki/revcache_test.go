package pki

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
	"github.com/tlsgate/tlsgate/internal/store/storetest"
)

var errStoreDown = errors.New("store down (test)")

// countingStore counts the queries a RevocationCache makes and fails them
// on demand.
type countingStore struct {
	store.Store
	mu           sync.Mutex
	certificates map[string]int // serial -> Certificate calls
	events       atomic.Int64
	fullScans    atomic.Int64 // Events(after=0)
	lastSeq      atomic.Int64
	failReads    atomic.Bool
	// slowLastSeq holds LastEventSeq this long, so that concurrent first
	// lookups overlap.
	slowLastSeq time.Duration
	// afterCertificate, when set, runs after the store answered
	// Certificate and before the answer is returned.
	afterCertificate func(serial string)
}

func countStore(ca *CA) *countingStore {
	cs := &countingStore{Store: ca.store, certificates: map[string]int{}}
	ca.store = cs
	return cs
}

func (s *countingStore) Certificate(ctx context.Context, serial string) (store.Certificate, error) {
	s.mu.Lock()
	s.certificates[serial]++
	s.mu.Unlock()
	if s.failReads.Load() {
		return store.Certificate{}, errStoreDown
	}
	c, err := s.Store.Certificate(ctx, serial)
	if s.afterCertificate != nil {
		s.afterCertificate(serial)
	}
	return c, err
}

func (s *countingStore) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	s.events.Add(1)
	if after == 0 {
		s.fullScans.Add(1)
	}
	if s.failReads.Load() {
		return nil, errStoreDown
	}
	return s.Store.Events(ctx, after, limit)
}

func (s *countingStore) LastEventSeq(ctx context.Context) (int64, error) {
	s.lastSeq.Add(1)
	time.Sleep(s.slowLastSeq)
	if s.failReads.Load() {
		return 0, errStoreDown
	}
	return s.Store.LastEventSeq(ctx)
}

func (s *countingStore) queries(serial *big.Int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.certificates[SerialString(serial)]
}

func issueClient(t testing.TB, ca *CA, name string) *big.Int {
	t.Helper()
	is, err := ca.IssueLeaf(context.Background(), Request{Profile: ProfileClient, Emails: []string{name + "@corp.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return is.Leaf.SerialNumber
}

// wantVerdict checks one lookup against the revocation state expected.
func wantVerdict(t *testing.T, rc *RevocationCache, serial *big.Int, revoked bool) {
	t.Helper()
	got, reason, at, err := rc.IsRevoked(context.Background(), serial)
	if err != nil || got != revoked || (revoked && (reason != ReasonKeyCompromise || at.IsZero())) {
		t.Fatalf("IsRevoked(%s) = %v, %v, %v, %v; want revoked=%v", SerialString(serial), got, reason, at, err, revoked)
	}
}

// eventually polls the cache until serial is revoked, for a few seconds.
func eventually(t *testing.T, rc *RevocationCache, serial *big.Int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		revoked, _, _, err := rc.IsRevoked(context.Background(), serial)
		if err != nil {
			t.Fatal(err)
		}
		if revoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial %s still answered as good 5s after its revocation", SerialString(serial))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRevocationCacheHitAsksNoStore(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	alice := issueClient(t, ca, "alice")
	for i := range 20 { // an audit log longer than the first lookup should read
		issueClient(t, ca, fmt.Sprint("filler", i))
	}
	cs := countStore(ca)
	rc := ca.RevocationCache(time.Hour)
	for range 100 {
		wantVerdict(t, rc, alice, false)
	}
	if n := cs.queries(alice); n != 1 {
		t.Errorf("100 lookups of one serial queried the store %d times, want 1", n)
	}
	if n, full := cs.events.Load(), cs.fullScans.Load(); n != 0 || full != 0 {
		t.Errorf("the first lookups read the audit log %d times (%d from its start), want 0: LastEventSeq tells where it ends", n, full)
	}
	if n := cs.lastSeq.Load(); n != 1 {
		t.Errorf("LastEventSeq called %d times, want 1", n)
	}
}

func TestRevocationCacheRevocationThroughSameCAAppliesAtOnce(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	alice, bob := issueClient(t, ca, "alice"), issueClient(t, ca, "bob")
	rc := ca.RevocationCache(time.Hour) // no refresh within the test
	wantVerdict(t, rc, alice, false)
	wantVerdict(t, rc, bob, false)
	if err := ca.Revoke(context.Background(), alice, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, rc, alice, true)
	wantVerdict(t, rc, bob, false)
}

func TestRevocationCacheRevocationByAnotherProcessAppliesWithinInterval(t *testing.T) {
	_, home := newTestCA(t, InitOptions{})
	revocationByAnotherProcess(t, home)
}

func TestRevocationCacheRevocationByAnotherProcessOnPostgres(t *testing.T) {
	revocationByAnotherProcess(t, postgresCAHome(t))
}

// postgresCAHome creates a CA whose store is a fresh PostgreSQL database
// and returns its home, closed, for tests to open as they need.
func postgresCAHome(t *testing.T) string {
	t.Helper()
	srv := storetest.StartPostgres(t)
	home := filepath.Join(t.TempDir(), "home")
	ca, err := Init(context.Background(), home, InitOptions{Store: srv.FreshDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	ca.Close()
	return home
}

// revocationByAnotherProcess revokes, through a second CA opened on the
// same store as tlsgate ca revoke would, one of two serials a cache holds.
func revocationByAnotherProcess(t *testing.T, home string) {
	ctx := context.Background()
	ca, err := Open(ctx, home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	alice, bob := issueClient(t, ca, "alice"), issueClient(t, ca, "bob")
	cs := countStore(ca)
	rc := ca.RevocationCache(50 * time.Millisecond)
	wantVerdict(t, rc, alice, false)
	wantVerdict(t, rc, bob, false)

	other, err := Open(ctx, home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Revoke(ctx, alice, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	eventually(t, rc, alice)
	for range 10 {
		wantVerdict(t, rc, alice, true)
	}
	// Only the revoked serial was forgotten: bob is still answered from
	// memory, whatever number of refreshes ran meanwhile.
	wantVerdict(t, rc, bob, false)
	if n := cs.queries(bob); n != 1 {
		t.Errorf("bob's verdict queried %d times, want 1: a revocation of another serial made the cache forget it", n)
	}
	if full := cs.fullScans.Load(); full != 0 {
		t.Errorf("the audit log was read from its start %d times", full)
	}
}

// TestRevocationCacheRevocationDuringLookupIsNotLost revokes a serial, in
// another process, between the store's answer "good" and the moment the
// cache would keep it, and has a refresh apply the revocation in between:
// keeping the answer then would keep it for good.
func TestRevocationCacheRevocationDuringLookupIsNotLost(t *testing.T) {
	ca, home := newTestCA(t, InitOptions{})
	alice, bob := issueClient(t, ca, "alice"), issueClient(t, ca, "bob")
	other, err := Open(context.Background(), home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cs := countStore(ca)
	rc := ca.RevocationCache(time.Nanosecond) // every lookup refreshes
	wantVerdict(t, rc, bob, false)
	var once sync.Once
	cs.afterCertificate = func(serial string) {
		if serial != SerialString(alice) {
			return
		}
		once.Do(func() {
			if err := other.Revoke(context.Background(), alice, ReasonKeyCompromise); err != nil {
				t.Error(err)
			}
			wantVerdict(t, rc, bob, false) // refreshes: reads alice's revocation
		})
	}
	if revoked, _, _, err := rc.IsRevoked(context.Background(), alice); err != nil || revoked {
		t.Fatalf("lookup that raced the revocation = %v, %v; want the store's answer from before it", revoked, err)
	}
	wantVerdict(t, rc, alice, true)
}

func TestRevocationCacheUnknownSerialNotCached(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	cs := countStore(ca)
	rc := ca.RevocationCache(time.Hour)
	stranger := big.NewInt(0x4242)
	for range 2 {
		revoked, _, _, err := rc.IsRevoked(context.Background(), stranger)
		if !errors.Is(err, ErrUnknownSerial) || revoked {
			t.Fatalf("IsRevoked(unknown) = %v, %v; want ErrUnknownSerial", revoked, err)
		}
	}
	if n := cs.queries(stranger); n != 2 {
		t.Errorf("two lookups of an unknown serial queried the store %d times, want 2 (errors are not cached)", n)
	}
}

func TestRevocationCacheStoreErrorFailsClosed(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	alice, bob := issueClient(t, ca, "alice"), issueClient(t, ca, "bob")
	cs := countStore(ca)
	rc := ca.RevocationCache(50 * time.Millisecond)
	wantVerdict(t, rc, alice, false)

	cs.failReads.Store(true)
	if _, _, _, err := rc.IsRevoked(context.Background(), bob); !errors.Is(err, errStoreDown) {
		t.Fatalf("lookup of an uncached serial with the store down: %v, want the store's error", err)
	}
	// The cached verdict lasts one interval, then the failed refresh
	// fails the lookup.
	deadline := time.Now().Add(5 * time.Second)
	for {
		revoked, _, _, err := rc.IsRevoked(context.Background(), alice)
		if errors.Is(err, errStoreDown) && !revoked {
			break
		}
		if err != nil {
			t.Fatalf("lookup with the audit log unreadable: %v, want the store's error", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("a cached verdict was still given 5s after the audit log became unreadable")
		}
		time.Sleep(5 * time.Millisecond)
	}

	cs.failReads.Store(false)
	wantVerdict(t, rc, alice, false)
	before := cs.queries(bob)
	wantVerdict(t, rc, bob, false)
	if n := cs.queries(bob); n != before+1 {
		t.Errorf("bob queried %d more times after the store came back, want 1: a failed lookup was cached", n-before)
	}
}

func TestRevocationCacheConcurrentLookups(t *testing.T) {
	ca, home := newTestCA(t, InitOptions{})
	var serials []*big.Int
	for i := range 4 {
		serials = append(serials, issueClient(t, ca, fmt.Sprint("client", i)))
	}
	cs := countStore(ca)
	cs.slowLastSeq = 100 * time.Millisecond
	rc := ca.RevocationCache(5 * time.Millisecond)
	other, err := Open(context.Background(), home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	const workers, each = 8, 300
	start := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				if _, _, _, err := rc.IsRevoked(context.Background(), serials[(w+i)%len(serials)]); err != nil {
					errc <- err
				}
			}
		}()
	}
	close(start)
	if err := ca.Revoke(context.Background(), serials[0], ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := other.Revoke(context.Background(), serials[1], ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := cs.lastSeq.Load(); n != 1 {
		t.Errorf("%d concurrent first lookups found where the audit log ends %d times, want once", workers, n)
	}
	if full := cs.fullScans.Load(); full != 0 {
		t.Errorf("the audit log was read from its start %d times", full)
	}
	wantVerdict(t, rc, serials[0], true)
	eventually(t, rc, serials[1])
	wantVerdict(t, rc, serials[2], false)
	wantVerdict(t, rc, serials[3], false)
}

func TestSerialKeyKeepsSignAndRefusesOverlong(t *testing.T) {
	var a, b [serialKeyLen]byte
	ka, _ := serialKey(&a, big.NewInt(0x1234))
	kb, _ := serialKey(&b, big.NewInt(-0x1234))
	if string(ka) == string(kb) {
		t.Error("a serial and its negation share a key")
	}
	long := new(big.Int).Lsh(big.NewInt(1), 8*serialKeyLen)
	if _, ok := serialKey(&a, long); ok {
		t.Error("a serial longer than the key buffer was keyed")
	}
}

// BenchmarkRevocationLookup compares asking the store with asking the
// cache, for one serial already looked up.
func BenchmarkRevocationLookup(b *testing.B) {
	ca, _ := newTestCA(b, InitOptions{})
	serial := issueClient(b, ca, "bench")
	ctx := context.Background()
	rc := ca.RevocationCache(DefaultRevocationRefresh)
	for _, v := range []struct {
		name   string
		lookup func(context.Context, *big.Int) (bool, Reason, time.Time, error)
	}{{"store", ca.IsRevoked}, {"cache", rc.IsRevoked}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := v.lookup(ctx, serial); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
