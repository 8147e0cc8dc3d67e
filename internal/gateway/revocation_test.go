package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

func TestCRLURLFollowsThePublishedList(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	leaf := ca.Issue(t, testpki.Leaf{EKU: clientEKU})
	var body atomic.Pointer[[]byte]
	empty := ca.CRL(t)
	body.Store(&empty)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(*body.Load()) }))
	defer srv.Close()

	const refresh = 50 * time.Millisecond
	c := NewCRLURL(srv.URL, refresh, nil)
	check := func() certcheck.RevocationState {
		st, _ := c.CheckRevocation(context.Background(), leaf.Cert, ca.Cert, time.Now())
		return st.State
	}
	if s := check(); s != certcheck.RevocationUnknown {
		t.Errorf("before the first fetch: %s, want unknown", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	waitState(t, check, certcheck.RevocationGood, 20*refresh)
	revoked := ca.CRL(t, leaf.Cert)
	body.Store(&revoked)
	waitState(t, check, certcheck.RevocationRevoked, 20*refresh)
	// A broken list does not replace the last good one.
	junk := []byte("not a CRL")
	body.Store(&junk)
	time.Sleep(3 * refresh)
	if s := check(); s != certcheck.RevocationRevoked {
		t.Errorf("after a broken fetch: %s, want the previous list's answer (revoked)", s)
	}
}

func waitState(t *testing.T, check func() certcheck.RevocationState, want certcheck.RevocationState, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for check() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %s, want %s within %v", check(), want, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOCSPCheckerAsksTheResponderAndCachesForRefresh(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	var status atomic.Int64
	var asked atomic.Int64
	var leafCert atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(ca.OCSPResponse(t, leafCert.Load().(*testpki.Issued).Cert, int(status.Load())))
	}))
	defer srv.Close()
	leaf := ca.Issue(t, testpki.Leaf{EKU: clientEKU, OCSPServer: []string{srv.URL}})
	leafCert.Store(leaf)
	status.Store(ocsp.Good)

	const refresh = 200 * time.Millisecond
	o := NewOCSPChecker(refresh)
	check := func() certcheck.RevocationState {
		st, _ := o.CheckRevocation(context.Background(), leaf.Cert, ca.Cert, time.Now())
		return st.State
	}
	if s := check(); s != certcheck.RevocationGood {
		t.Fatalf("good answer read as %s", s)
	}
	status.Store(ocsp.Revoked)
	if s := check(); s != certcheck.RevocationGood || asked.Load() != 1 {
		t.Errorf("within the refresh interval: %s after %d questions, want the cached good after 1", s, asked.Load())
	}
	waitState(t, check, certcheck.RevocationRevoked, 10*refresh)

	noResponder := ca.Issue(t, testpki.Leaf{EKU: clientEKU})
	if st, _ := o.CheckRevocation(context.Background(), noResponder.Cert, ca.Cert, time.Now()); st.State != certcheck.RevocationUnknown {
		t.Errorf("certificate without a responder: %s, want unknown", st.State)
	}
}

func TestCRLDistributionPointFetchedOnDemandAndRefreshed(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	var body atomic.Pointer[[]byte]
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Write(*body.Load())
	}))
	defer srv.Close()
	leaf := ca.Issue(t, testpki.Leaf{EKU: clientEKU, CRLDistributionPoints: []string{srv.URL + "/crl"}})
	empty := ca.CRL(t)
	body.Store(&empty)

	const refresh = 200 * time.Millisecond
	d := NewCRLDistributionPoints(refresh)
	check := func() certcheck.RevocationState {
		st, _ := d.CheckRevocation(context.Background(), leaf.Cert, ca.Cert, time.Now())
		return st.State
	}
	if s := check(); s != certcheck.RevocationGood {
		t.Fatalf("first check: %s, want good", s)
	}
	revoked := ca.CRL(t, leaf.Cert)
	body.Store(&revoked)
	if s := check(); s != certcheck.RevocationGood || fetches.Load() != 1 {
		t.Errorf("within the refresh interval: %s after %d fetches, want the cached list's good after 1", s, fetches.Load())
	}
	waitState(t, check, certcheck.RevocationRevoked, 10*refresh)

	noCDP := ca.Issue(t, testpki.Leaf{EKU: clientEKU})
	if st, _ := d.CheckRevocation(context.Background(), noCDP.Cert, ca.Cert, time.Now()); st.State != certcheck.RevocationUnknown {
		t.Errorf("certificate without a distribution point: %s, want unknown", st.State)
	}
}
