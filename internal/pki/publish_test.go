package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
	"golang.org/x/time/rate"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// publishFixture is a CA with two leaves, the second revoked for key
// compromise, published on a loopback HTTP server.
type publishFixture struct {
	ca            *CA
	good, revoked *Issued
	srv           *httptest.Server
	dir           string
}

func newPublishFixture(t *testing.T) *publishFixture {
	t.Helper()
	ctx := context.Background()
	ca, _ := newTestCA(t, InitOptions{})
	f := &publishFixture{ca: ca, dir: t.TempDir()}
	var err error
	if f.good, err = ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"good.example.test"}}); err != nil {
		t.Fatal(err)
	}
	if f.revoked, err = ca.IssueLeaf(ctx, Request{Profile: ProfileClient, Emails: []string{"bad@example.test"}}); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(ctx, f.revoked.Leaf.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	pub, err := ca.NewPublisher(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(pub.Handler())
	t.Cleanup(f.srv.Close)
	for name, data := range map[string][]byte{
		"root.pem": ca.RootPEM(), "inter.pem": ca.interPEM, "chain.pem": ca.ChainPEM(),
		"good.pem": f.good.CertPEM, "revoked.pem": f.revoked.CertPEM,
	} {
		os.WriteFile(filepath.Join(f.dir, name), data, 0o644)
	}
	return f
}

func (f *publishFixture) path(name string) string { return filepath.Join(f.dir, name) }

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", u, resp.Status, body)
	}
	return body
}

func ocspPost(t *testing.T, u string, req []byte) *ocsp.Response {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(u, "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
		t.Errorf("Content-Type %q", ct)
	}
	r, err := ocsp.ParseResponse(body, nil)
	if err != nil {
		t.Fatalf("parse OCSP response: %v", err)
	}
	return r
}

func TestCRLContents(t *testing.T) {
	f := newPublishFixture(t)
	der := httpGet(t, f.srv.URL+"/crl/intermediate.crl")
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(f.ca.Intermediate()); err != nil {
		t.Fatalf("CRL not signed by the intermediate: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(f.revoked.Leaf.SerialNumber) != 0 || crl.RevokedCertificateEntries[0].ReasonCode != int(ReasonKeyCompromise) {
		t.Fatalf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
	if crl.NextUpdate.Sub(crl.ThisUpdate) != crlLifetime || crl.Number.Sign() <= 0 {
		t.Errorf("CRL times/number: %v %v %v", crl.ThisUpdate, crl.NextUpdate, crl.Number)
	}
	// A later revocation shows on the next fetch, with a larger number.
	if err := f.ca.Revoke(context.Background(), f.good.Leaf.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	crl2, err := x509.ParseRevocationList(httpGet(t, f.srv.URL+"/crl/intermediate.crl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(crl2.RevokedCertificateEntries) != 2 || crl2.Number.Cmp(crl.Number) <= 0 {
		t.Fatalf("CRL not regenerated after revocation: %d entries, number %v after %v", len(crl2.RevokedCertificateEntries), crl2.Number, crl.Number)
	}
	root, err := x509.ParseRevocationList(httpGet(t, f.srv.URL+"/crl/root.crl"))
	if err != nil || root.CheckSignatureFrom(f.ca.Root()) != nil || len(root.RevokedCertificateEntries) != 0 {
		t.Fatalf("root CRL: %v", err)
	}
}

func TestOCSPAnswers(t *testing.T) {
	f := newPublishFixture(t)
	inter := f.ca.Intermediate()
	req, _ := OCSPRequest(f.good.Leaf, inter)
	r := ocspPost(t, f.srv.URL+"/ocsp", req)
	if r.Status != ocsp.Good || r.SerialNumber.Cmp(f.good.Leaf.SerialNumber) != 0 {
		t.Fatalf("good certificate: status %d", r.Status)
	}
	if r.Certificate == nil || r.Certificate.CheckSignatureFrom(inter) != nil || r.CheckSignatureFrom(r.Certificate) != nil {
		t.Fatal("response not signed by a delegated signer of the intermediate")
	}
	if !bytes.Equal(r.Certificate.RawSubjectPublicKeyInfo, f.ca.ocspCert.RawSubjectPublicKeyInfo) || r.Certificate.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning {
		t.Fatal("responder certificate is not the OCSP signer")
	}
	if r.NextUpdate.Sub(r.ThisUpdate) != ocspLifetime {
		t.Errorf("nextUpdate-thisUpdate = %v", r.NextUpdate.Sub(r.ThisUpdate))
	}

	// GET form, base64 URL-escaped.
	get := f.srv.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
	g, err := ocsp.ParseResponseForCert(httpGet(t, get), f.good.Leaf, inter)
	if err != nil || g.Status != ocsp.Good {
		t.Fatalf("GET: %v %v", g, err)
	}

	req, _ = OCSPRequest(f.revoked.Leaf, inter)
	r = ocspPost(t, f.srv.URL+"/ocsp", req)
	if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise || r.RevokedAt.IsZero() {
		t.Fatalf("revoked certificate: status %d reason %d", r.Status, r.RevocationReason)
	}

	req, _ = OCSPRequest(&x509.Certificate{SerialNumber: big.NewInt(0x123456789)}, inter)
	if r = ocspPost(t, f.srv.URL+"/ocsp", req); r.Status != ocsp.Unknown {
		t.Fatalf("never-issued serial: status %d, want unknown", r.Status)
	}

	// A request about another CA's certificate is refused as unauthorized.
	other, _ := newTestCA(t, InitOptions{})
	req, _ = OCSPRequest(f.good.Leaf, other.Intermediate())
	resp, err := http.Post(f.srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := ocsp.ParseResponse(body, nil); !errors.As(err, new(ocsp.ResponseError)) || err.(ocsp.ResponseError).Status != ocsp.Unauthorized {
		t.Fatalf("foreign issuer: %v, want unauthorized", err)
	}
	resp, err = http.Post(f.srv.URL+"/ocsp", "application/ocsp-request", strings.NewReader("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
		t.Fatalf("garbage request answered %x", body)
	}

	// A cached good answer is dropped as soon as the certificate is revoked.
	if err := f.ca.Revoke(context.Background(), f.good.Leaf.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	req, _ = OCSPRequest(f.good.Leaf, inter)
	if r = ocspPost(t, f.srv.URL+"/ocsp", req); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
		t.Fatalf("after revocation: status %d reason %d", r.Status, r.RevocationReason)
	}
}

func TestOCSPCachesAnswers(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"a.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	ca.now = func() time.Time { return clock }
	r := ca.NewResponder()
	req, _ := OCSPRequest(is.Leaf, ca.Intermediate())
	a1, err := r.Respond(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(ocspLifetime - ocspRefresh - time.Minute)
	a2, _ := r.Respond(ctx, req)
	if !bytes.Equal(a1.DER, a2.DER) {
		t.Error("answer re-signed while the cached one was still fresh")
	}
	clock = clock.Add(2 * time.Minute)
	a3, _ := r.Respond(ctx, req)
	if bytes.Equal(a1.DER, a3.DER) {
		t.Error("cached answer served within the refresh margin of its nextUpdate")
	}
}

func TestRevokeErrors(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"a.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(ctx, is.Leaf.SerialNumber, ReasonCessationOfOperation); err != nil {
		t.Fatal(err)
	}
	if err := ca.Revoke(ctx, is.Leaf.SerialNumber, ReasonKeyCompromise); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("revoking twice: %v", err)
	}
	if err := ca.Revoke(ctx, big.NewInt(42), ReasonKeyCompromise); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("unknown serial: %v", err)
	}
	if err := ca.Revoke(ctx, ca.Intermediate().SerialNumber, ReasonKeyCompromise); err == nil {
		t.Error("the intermediate was revoked through the leaf path")
	}
	rev, reason, at, err := ca.IsRevoked(ctx, is.Leaf.SerialNumber)
	if err != nil || !rev || reason != ReasonCessationOfOperation || at.IsZero() {
		t.Errorf("IsRevoked = %v %v %v %v", rev, reason, at, err)
	}
	if _, _, _, err := ca.IsRevoked(ctx, big.NewInt(42)); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("IsRevoked(unknown) error %v", err)
	}
	if _, err := ParseReason("certificateHold"); err == nil {
		t.Error("certificateHold accepted")
	}
	if r, err := ParseReason("keycompromise"); err != nil || r != ReasonKeyCompromise {
		t.Error("reason names are not case-insensitive")
	}
}

// TestOpenSSLAsClient asks openssl, an independent implementation, to
// fetch and check the CRL and the OCSP answers.
func TestOpenSSLAsClient(t *testing.T) {
	f := newPublishFixture(t)
	openssl := needOpenSSL(t)
	crlFile := f.path("inter.crl")
	os.WriteFile(crlFile, httpGet(t, f.srv.URL+"/crl/intermediate.crl"), 0o644)
	out := run(t, openssl, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", f.path("chain.pem"), "-noout", "-text")
	sn := strings.ToUpper(f.revoked.Leaf.SerialNumber.Text(16))
	if !strings.Contains(out, "verify OK") || !strings.Contains(out, sn) || !strings.Contains(out, "Key Compromise") {
		t.Errorf("openssl crl output lacks verify OK, serial %s or reason:\n%s", sn, out)
	}
	// openssl verify with CRL checking: good passes, revoked fails.
	both := f.path("crls.pem")
	pemCRL := run(t, openssl, "crl", "-inform", "DER", "-in", crlFile)
	rootCRL := f.path("root.crl")
	os.WriteFile(rootCRL, httpGet(t, f.srv.URL+"/crl/root.crl"), 0o644)
	pemRootCRL := run(t, openssl, "crl", "-inform", "DER", "-in", rootCRL)
	os.WriteFile(both, []byte(pemCRL+pemRootCRL), 0o644)
	run(t, openssl, "verify", "-crl_check_all", "-CRLfile", both, "-CAfile", f.path("root.pem"), "-untrusted", f.path("inter.pem"), f.path("good.pem"))
	cmd := exec.Command(openssl, "verify", "-crl_check_all", "-CRLfile", both, "-CAfile", f.path("root.pem"), "-untrusted", f.path("inter.pem"), f.path("revoked.pem"))
	if o, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(o), "revoked") {
		t.Errorf("openssl verify accepted a revoked certificate:\n%s", o)
	}

	for _, c := range []struct{ cert, want string }{
		{"good.pem", ": good"},
		{"revoked.pem", ": revoked"},
	} {
		out := run(t, openssl, "ocsp", "-issuer", f.path("inter.pem"), "-cert", f.path(c.cert), "-url", f.srv.URL+"/ocsp",
			"-CAfile", f.path("root.pem"), "-verify_other", f.path("inter.pem"), "-no_nonce", "-timeout", "5")
		if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, c.want) {
			t.Errorf("openssl ocsp for %s: want %q and Response verify OK:\n%s", c.cert, c.want, out)
		}
		if c.cert == "revoked.pem" && !strings.Contains(out, "keyCompromise") {
			t.Errorf("openssl ocsp shows no reason:\n%s", out)
		}
	}
}

func needOpenSSL(t *testing.T) string {
	t.Helper()
	return testtool.Need(t, "openssl")
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPublisherRenewsBeforeNextUpdate moves the clock: the CRL is re-signed
// before its nextUpdate, and the OCSP signer is replaced two thirds into
// its life.
func TestPublisherRenewsBeforeNextUpdate(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	clock := time.Now()
	ca.now = func() time.Time { return clock }
	pub, err := ca.NewPublisher(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := pub.crl(ctx, issuerIntermed)
	clock = clock.Add(crlLifetime / 2)
	if same, _ := pub.crl(ctx, issuerIntermed); same != first {
		t.Error("CRL re-signed while far from nextUpdate")
	}
	clock = first.NextUpdate.Add(-crlLifetime / 4)
	next, _ := pub.crl(ctx, issuerIntermed)
	if next == first || !next.NextUpdate.After(first.NextUpdate) {
		t.Error("CRL not re-signed within the last third before nextUpdate")
	}
	oldSigner := ca.ocspCert
	clock = RenewAt(oldSigner).Add(time.Minute)
	signer, _, err := ca.ensureOCSPSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Equal(oldSigner) || !signer.NotAfter.After(oldSigner.NotAfter) {
		t.Error("OCSP signer not replaced two thirds into its life")
	}
	onDisk, err := readCertFile(filepath.Join(ca.dir, ocspCertFile))
	if err != nil || !onDisk.Equal(signer) {
		t.Errorf("new OCSP signer not written to disk: %v", err)
	}
}

// TestConcurrentInitIfMissing starts several InitIfMissing at once on one
// empty home: exactly one CA results and every caller gets it.
func TestConcurrentInitIfMissing(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	const callers = 4
	roots := make(chan string, callers)
	errs := make(chan error, callers)
	for range callers {
		go func() {
			ca, err := InitIfMissing(context.Background(), home, InitOptions{})
			if err != nil {
				errs <- err
				return
			}
			roots <- ca.RootFingerprint()
			ca.Close()
		}()
	}
	seen := map[string]bool{}
	for range callers {
		select {
		case fp := <-roots:
			seen[fp] = true
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(60 * time.Second):
			t.Fatal("InitIfMissing did not return within 60s")
		}
	}
	if len(seen) != 1 {
		t.Fatalf("%d different roots from concurrent InitIfMissing, want 1", len(seen))
	}
}

// TestOCSPSigningIsRateLimited: past the signing budget, uncached answers
// become tryLater while cached ones are still served.
func TestOCSPSigningIsRateLimited(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"a.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	r := ca.NewResponder()
	r.signing = rate.NewLimiter(0, 1)
	good, _ := OCSPRequest(is.Leaf, ca.Intermediate())
	if a, err := r.Respond(ctx, good); err != nil || bytes.Equal(a.DER, ocsp.TryLaterErrorResponse) {
		t.Fatalf("first answer: %v", err)
	}
	unknown, _ := OCSPRequest(&x509.Certificate{SerialNumber: big.NewInt(77)}, ca.Intermediate())
	if a, _ := r.Respond(ctx, unknown); !bytes.Equal(a.DER, ocsp.TryLaterErrorResponse) {
		t.Error("signing beyond the budget was not refused with tryLater")
	}
	if a, _ := r.Respond(ctx, good); bytes.Equal(a.DER, ocsp.TryLaterErrorResponse) {
		t.Error("a cached answer was refused for lack of signing budget")
	}
}
