package certsource

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// fakeCA issues short-lived certificates from a testpki CA and can be told
// to fail.
type fakeCA struct {
	t    *testing.T
	ca   *testpki.CA
	life time.Duration

	mu     sync.Mutex
	issued int
	fail   bool
}

func (f *fakeCA) issue(ctx context.Context, names []string) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errors.New("CA unavailable")
	}
	f.issued++
	now := time.Now()
	is := f.ca.Issue(f.t, testpki.Leaf{DNS: names, NotBefore: now.Add(-time.Second), NotAfter: now.Add(f.life)})
	c := is.TLSCertificate()
	return &c, nil
}

func (f *fakeCA) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}

func TestLocalIssuesAtStartAndRenewsAtTwoThirds(t *testing.T) {
	ca := &fakeCA{t: t, ca: testpki.NewCA(t, testpki.ECDSAP256), life: 300 * time.Millisecond}
	l, err := NewLocal(context.Background(), ca.issue, []string{"localhost"}, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ca.count() != 1 {
		t.Fatalf("issued %d at start, want 1", ca.count())
	}
	first, _ := l.GetCertificate(&tls.ClientHelloInfo{})
	go l.Run(t.Context())
	deadline := time.Now().Add(10 * time.Second)
	for ca.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	second, _ := l.GetCertificate(&tls.ClientHelloInfo{})
	if ca.count() < 2 || second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Fatalf("no renewal: issued %d", ca.count())
	}
	if second.Leaf.NotBefore.Before(first.Leaf.NotBefore) {
		t.Error("renewal served an older certificate")
	}
}

func TestLocalKeepsCertificateWhenRenewalFails(t *testing.T) {
	ca := &fakeCA{t: t, ca: testpki.NewCA(t, testpki.ECDSAP256), life: time.Hour}
	now := time.Now()
	clock := func() time.Time { return now.Add(50 * time.Minute) } // past two thirds
	l, err := NewLocal(context.Background(), ca.issue, []string{"localhost"}, LocalOptions{RetryAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := l.GetCertificate(&tls.ClientHelloInfo{})
	ca.mu.Lock()
	ca.fail = true
	ca.mu.Unlock()
	l.opts.Now = clock
	if _, err := l.obtain(context.Background()); err == nil {
		t.Fatal("renewal against a failing CA succeeded")
	}
	got := l.cert.Load()
	if got != first {
		t.Error("a failed renewal dropped the current certificate")
	}
}

func TestLocalLazyIssuesOnFirstHandshake(t *testing.T) {
	ca := &fakeCA{t: t, ca: testpki.NewCA(t, testpki.ECDSAP256), life: time.Hour}
	l, err := NewLocal(context.Background(), ca.issue, []string{"a.test"}, LocalOptions{Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	if ca.count() != 0 || len(l.Leaves()) != 0 {
		t.Fatal("lazy source issued at start")
	}
	c, err := l.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.test"})
	if err != nil || c.Leaf.DNSNames[0] != "a.test" {
		t.Fatalf("first handshake: %v", err)
	}
	l.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.test"})
	if ca.count() != 1 {
		t.Errorf("issued %d times, want once", ca.count())
	}
}
