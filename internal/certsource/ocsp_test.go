package certsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// ocspResponder answers with the status in *status, signed by the issuer.
func ocspResponder(t *testing.T, issuer *testpki.CA, leaf **testpki.Issued, status *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(issuer.OCSPResponse(t, (*leaf).Cert, int(status.Load())))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStapledFetchesAndStaplesGoodResponse(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	inter := ca.NewIntermediate(t)
	var leaf *testpki.Issued
	var status atomic.Int64
	status.Store(ocsp.Good)
	srv := ocspResponder(t, inter, &leaf, &status)
	leaf = inter.Issue(t, testpki.Leaf{OCSPServer: []string{srv.URL}})
	static, err := NewStatic(leaf.TLSCertificate())
	if err != nil {
		t.Fatal(err)
	}
	fetched := make(chan error, 8)
	s := NewStapled(static, StapleOptions{OnFetch: func(_ *x509.Certificate, err error) { fetched <- err }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	select {
	case err := <-fetched:
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OCSP fetch within 10s")
	}
	c, _ := s.GetCertificate(&tls.ClientHelloInfo{})
	if len(c.OCSPStaple) == 0 {
		t.Fatal("no staple after a good response")
	}
	r, err := ocsp.ParseResponse(c.OCSPStaple, nil)
	if err != nil || r.Status != ocsp.Good {
		t.Errorf("staple = %v, %v", r, err)
	}
}

func TestStapledRefusesRevokedAndForgedResponses(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	inter := ca.NewIntermediate(t)
	other := testpki.NewCA(t, testpki.ECDSAP256)
	for _, tc := range []struct {
		name   string
		signer *testpki.CA
		status int
	}{{"revoked", inter, ocsp.Revoked}, {"signed by another CA", other, ocsp.Good}} {
		t.Run(tc.name, func(t *testing.T) {
			var leaf *testpki.Issued
			var status atomic.Int64
			status.Store(int64(tc.status))
			srv := ocspResponder(t, tc.signer, &leaf, &status)
			leaf = inter.Issue(t, testpki.Leaf{OCSPServer: []string{srv.URL}})
			static, _ := NewStatic(leaf.TLSCertificate())
			s := NewStapled(static, StapleOptions{})
			s.GetCertificate(&tls.ClientHelloInfo{})
			s.fetchDue(context.Background())
			c, _ := s.GetCertificate(&tls.ClientHelloInfo{})
			if len(c.OCSPStaple) != 0 {
				t.Error("a bad OCSP response was stapled")
			}
		})
	}
}

func TestStapledLeavesCertificatesWithoutResponderAlone(t *testing.T) {
	is := testpki.NewCA(t, testpki.ECDSAP256).Issue(t, testpki.Leaf{})
	static, _ := NewStatic(is.TLSCertificate())
	s := NewStapled(static, StapleOptions{})
	c, _ := s.GetCertificate(&tls.ClientHelloInfo{})
	want, _ := static.GetCertificate(nil)
	if c != want {
		t.Error("a certificate without an OCSP URL was changed")
	}
}
