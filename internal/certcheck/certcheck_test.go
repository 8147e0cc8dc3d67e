package certcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

func verifyFixture(f *testpki.Fixture, mod func(*Input)) Result {
	in := Input{Chain: f.Chain, Roots: f.Roots, Name: f.ServerName, Usages: []x509.ExtKeyUsage{f.Usage}}
	if mod != nil {
		mod(&in)
	}
	return Verify(context.Background(), in)
}

func TestGoodFixturesVerify(t *testing.T) {
	for _, f := range testpki.GoodFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			r := verifyFixture(f, nil)
			if !r.OK || r.Reason != ReasonOK {
				t.Fatalf("%s: %s", r.Reason, r.Message)
			}
			if len(r.Chains) == 0 || len(r.Certificates) != len(f.Chain) {
				t.Errorf("chains %d, facts %d", len(r.Chains), len(r.Certificates))
			}
			if d := r.Certificates[0].DaysLeft; d < 88 || d > 90 {
				t.Errorf("leaf days left %d, want 89", d)
			}
			want := date(f.Leaf().NotAfter)
			if !strings.Contains(r.Message, want) || !strings.Contains(r.Message, "trusted") {
				t.Errorf("message %q lacks %s", r.Message, want)
			}
		})
	}
}

func TestBadFixturesNameTheirReason(t *testing.T) {
	want := map[string]struct {
		reason Reason
		says   func(f *testpki.Fixture) []string
	}{
		"expired": {ReasonExpired, func(f *testpki.Fixture) []string {
			return []string{"expired on " + date(f.Leaf().NotAfter), "(10 days ago)", "renew"}
		}},
		"not-yet-valid": {ReasonNotYetValid, func(f *testpki.Fixture) []string {
			return []string{"not valid until " + date(f.Leaf().NotBefore), "(in 10 days)", "clock"}
		}},
		"wrong-host": {ReasonHostnameMismatch, func(*testpki.Fixture) []string {
			return []string{`not valid for "localhost"`, "valid for: wrong.test, other.test"}
		}},
		"self-signed": {ReasonSelfSigned, func(*testpki.Fixture) []string { return []string{"self-signed", "--ca FILE"} }},
		"untrusted-root": {ReasonUnknownAuthority, func(f *testpki.Fixture) []string {
			return []string{f.Issued.Root.Subject.CommonName, "not trusted"}
		}},
		"missing-intermediate": {ReasonIncompleteChain, func(f *testpki.Fixture) []string {
			return []string{"incomplete chain", f.Issued.Intermediates[0].Subject.CommonName, "full-chain"}
		}},
		"cn-only":     {ReasonCNOnly, func(*testpki.Fixture) []string { return []string{"Common Name", "Subject Alternative Name"} }},
		"sha1-signed": {ReasonWeakSignature, func(*testpki.Fixture) []string { return []string{"SHA1-RSA", "SHA-256"} }},
		"rsa-1024":    {ReasonWeakKey, func(*testpki.Fixture) []string { return []string{"1024-bit RSA key", "2048"} }},
		"wrong-eku": {ReasonWrongUsage, func(*testpki.Fixture) []string {
			return []string{"allows only client authentication (clientAuth), not server authentication", "includes serverAuth"}
		}},
		"revoked": {ReasonRevoked, func(f *testpki.Fixture) []string {
			resp, err := ocsp.ParseResponse(f.OCSP, nil)
			if err != nil {
				t.Fatal(err)
			}
			return []string{"revoked on " + date(resp.RevokedAt), "(today)", "OCSP staple", "keyCompromise"}
		}},
	}
	for _, f := range testpki.BadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			w, ok := want[f.Name]
			if !ok {
				t.Fatalf("no expectation for fixture %q", f.Name)
			}
			r := verifyFixture(f, func(in *Input) { in.Stapled = f.OCSP })
			if r.OK || r.Reason != w.reason {
				t.Fatalf("reason %s (%s), want %s", r.Reason, r.Message, w.reason)
			}
			for _, s := range w.says(f) {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q lacks %q", r.Message, s)
				}
			}
			if !strings.Contains(r.Message, ": ") {
				t.Errorf("message %q does not say what to do", r.Message)
			}
			if len(r.Problems) == 0 || r.Problems[0].Reason != w.reason {
				t.Errorf("problems %v do not start with the verdict", r.Problems)
			}
			for i, p := range r.Problems {
				for _, q := range r.Problems[i+1:] {
					if p == q {
						t.Errorf("problem listed twice: %v", p)
					}
				}
			}
			if ReasonOf(r.AsError()) != w.reason {
				t.Errorf("ReasonOf(AsError()) = %s", ReasonOf(r.AsError()))
			}
		})
	}
}

func TestReasonsAreListedOnce(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || r == "" || strings.ToLower(string(r)) != string(r) {
			t.Errorf("reason %q repeated, empty or not lower case", r)
		}
		seen[r] = true
	}
	if !seen[ReasonIncompleteChain] || !seen[ReasonOther] || len(seen) != 17 {
		t.Errorf("Reasons() has %d entries", len(seen))
	}
}

func TestRevocationSources(t *testing.T) {
	ctx := context.Background()
	rev := testpki.Revoked(t)
	good := testpki.Good(t, testpki.ECDSAP256)
	crls := func(t *testing.T, f *testpki.Fixture) CRLs {
		c, err := ParseCRLs(f.CRL)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Without any revocation source a revoked certificate passes: the
	// revocation answer is what fails it.
	if r := verifyFixture(rev, nil); !r.OK {
		t.Errorf("revoked fixture without sources: %s", r.Message)
	}
	r := verifyFixture(rev, func(in *Input) { in.Revocation = crls(t, rev) })
	if r.Reason != ReasonRevoked || !strings.Contains(r.Message, "according to the CRL") {
		t.Errorf("CRL: %s %s", r.Reason, r.Message)
	}
	local := RevocationFunc(func(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error) {
		if cert.SerialNumber.Cmp(rev.Leaf().SerialNumber) == 0 {
			return RevocationStatus{State: RevocationRevoked, Source: "local CA store", RevokedAt: at.Add(-72 * time.Hour), ReasonCode: 4}, nil
		}
		return RevocationStatus{State: RevocationGood, Source: "local CA store"}, nil
	})
	r = verifyFixture(rev, func(in *Input) { in.Revocation = local })
	if r.Reason != ReasonRevoked || !strings.Contains(r.Message, "local CA store") || !strings.Contains(r.Message, "3 days ago") || !strings.Contains(r.Message, "superseded") {
		t.Errorf("local store: %s %s", r.Reason, r.Message)
	}

	// Good answers pass and are reported, for the leaf and the intermediate.
	r = verifyFixture(good, func(in *Input) { in.Stapled = good.OCSP; in.Revocation = Checkers{crls(t, good), local} })
	if !r.OK || len(r.Revocation) != 2 || r.Revocation[0].State != RevocationGood || r.Revocation[0].Source != "OCSP staple" {
		t.Errorf("good: %v %s %+v", r.OK, r.Message, r.Revocation)
	}

	// A staple for another certificate, or from another CA, is no answer.
	r = verifyFixture(good, func(in *Input) { in.Stapled = rev.OCSP })
	if !r.OK || len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "unknown") {
		t.Errorf("foreign staple: %v %s %v", r.OK, r.Message, r.Warnings)
	}
	// A CRL from another issuer does not clear or revoke anything.
	st, _ := crls(t, rev).CheckRevocation(ctx, good.Leaf(), good.Chain[1], time.Now())
	if st.State != RevocationUnknown {
		t.Errorf("foreign CRL answered %s", st.State)
	}
	// Stale answers are unknown.
	later := time.Now().AddDate(0, 0, 30)
	st, _ = OCSPResponse{Raw: rev.OCSP}.CheckRevocation(ctx, rev.Leaf(), rev.Chain[1], later)
	if st.State != RevocationUnknown || !strings.Contains(st.Detail, "expired") {
		t.Errorf("stale OCSP: %+v", st)
	}
	st, _ = crls(t, rev).CheckRevocation(ctx, rev.Leaf(), rev.Chain[1], later)
	if st.State != RevocationUnknown || !strings.Contains(st.Detail, "expired") {
		t.Errorf("stale CRL: %+v", st)
	}
	// A response signed by the wrong CA is an error, not an answer.
	if _, err := (OCSPResponse{Raw: rev.OCSP}).CheckRevocation(ctx, rev.Leaf(), good.Chain[1], time.Now()); err == nil {
		t.Error("OCSP response checked against the wrong issuer passed")
	}
	if _, err := ParseCRLs([]byte("not a CRL")); err == nil {
		t.Error("garbage CRL parsed")
	}
}

func TestClientCertificate(t *testing.T) {
	f := testpki.Client(t)
	ok := verifyFixture(f, nil)
	if !ok.OK {
		t.Fatalf("client certificate: %s", ok.Message)
	}
	c := ok.Certificates[0]
	if len(c.URIs) != 1 || c.URIs[0] != testpki.ClientURI || len(c.Emails) != 1 {
		t.Errorf("facts %+v", c)
	}
	r := verifyFixture(f, func(in *Input) { in.Usages = nil; in.Name = "localhost" })
	if r.Reason != ReasonWrongUsage && r.Reason != ReasonHostnameMismatch {
		t.Errorf("client certificate as server: %s %s", r.Reason, r.Message)
	}
}

func TestExpiringSoonWarns(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	is := ca.Issue(t, testpki.Leaf{NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)})
	r := Verify(context.Background(), Input{Chain: is.Chain(), Roots: is.Roots(), Name: "localhost"})
	if !r.OK || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "in 5 days") {
		t.Errorf("%v %v", r.OK, r.Warnings)
	}
}

func TestIntermediateExpired(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	in := ca.NewIntermediate(t)
	is := in.Issue(t, testpki.Leaf{})
	at := in.Cert.NotAfter.Add(48 * time.Hour)
	r := Verify(context.Background(), Input{Chain: is.Chain(), Roots: is.Roots(), Name: "localhost", At: at})
	// The leaf (90 days) expires first; check the message names the leaf.
	if r.Reason != ReasonExpired || !strings.Contains(r.Message, `certificate "localhost"`) {
		t.Errorf("%s %s", r.Reason, r.Message)
	}
}

func TestNoCertificate(t *testing.T) {
	r := Verify(context.Background(), Input{})
	if r.OK || r.Reason != ReasonNoCertificate {
		t.Errorf("%s %s", r.Reason, r.Message)
	}
}

func TestResultJSON(t *testing.T) {
	f := testpki.Expired(t)
	b, err := json.Marshal(verifyFixture(f, nil))
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		OK           bool   `json:"ok"`
		Reason       string `json:"reason"`
		Certificates []struct {
			DaysLeft int `json:"days_left"`
		} `json:"certificates"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.OK || back.Reason != "expired" || len(back.Certificates) != 2 || back.Certificates[0].DaysLeft != -10 && back.Certificates[0].DaysLeft != -11 {
		t.Errorf("JSON %s", b)
	}
}

// dial runs a real loopback handshake against fixture f and returns the
// client's error.
func dial(t *testing.T, f *testpki.Fixture) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{f.TLSCertificate()}})
		s.Handshake()
		s.Close()
	}()
	defer func() { <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{RootCAs: f.Roots, ServerName: f.ServerName}, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
	}
	return err
}

// TestFromTLSErrorAgreesWithVerify: a client dialing with crypto/tls gets
// the same reason Verify gives for the same chain.
func TestFromTLSErrorAgreesWithVerify(t *testing.T) {
	for _, f := range testpki.BadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			want := verifyFixture(f, nil)
			err := dial(t, f)
			if err == nil {
				if want.OK {
					return // policy-only faults (revocation) that crypto/tls does not check
				}
				if want.Reason == ReasonWeakKey {
					return // crypto/tls accepts RSA-1024; Verify adds that policy
				}
				t.Fatalf("handshake succeeded, Verify says %s", want.Reason)
			}
			got, ok := FromTLSError(fmt.Errorf("dial %s: %w", f.ServerName, err))
			if !ok {
				t.Fatalf("FromTLSError does not recognise %v", err)
			}
			if got.Reason != want.Reason || got.Message != want.Message {
				t.Errorf("handshake: %s %q\nVerify:    %s %q", got.Reason, got.Message, want.Reason, want.Message)
			}
		})
	}
	if _, ok := FromTLSError(errors.New("connection refused")); ok {
		t.Error("a non-certificate error was recognised")
	}
}

func TestFromAlert(t *testing.T) {
	for alert, want := range map[tls.AlertError]Reason{45: ReasonExpired, 44: ReasonRevoked, 48: ReasonUnknownAuthority, 42: ReasonRejectedByPeer, 116: ReasonNoCertificate} {
		r, ok := FromTLSError(fmt.Errorf("remote error: %w", alert))
		if !ok || r.Reason != want || !strings.Contains(r.Message, "peer") {
			t.Errorf("alert %d: %v %s %q", alert, ok, r.Reason, r.Message)
		}
	}
	if _, ok := FromTLSError(tls.AlertError(40)); ok {
		t.Error("handshake_failure alert treated as a certificate problem")
	}
	if ReasonOf(nil) != ReasonOK || ReasonOf(errors.New("x")) != ReasonOther {
		t.Error("ReasonOf")
	}
}

func TestOCSPNotOnEd25519(t *testing.T) {
	// testpki cannot sign OCSP with Ed25519; the good chain still verifies
	// with an empty staple.
	f := testpki.Good(t, testpki.Ed25519)
	if r := verifyFixture(f, func(in *Input) { in.Stapled = f.OCSP }); !r.OK {
		t.Errorf("%s", r.Message)
	}
}

func TestEveryProblemIsListed(t *testing.T) {
	now := time.Now()
	ca := testpki.NewCA(t, testpki.RSA2048)
	is := ca.Issue(t, testpki.Leaf{
		DNS: []string{"other.test"}, KeyType: testpki.RSA1024,
		NotBefore: now.AddDate(0, 0, -60), NotAfter: now.AddDate(0, 0, -3),
		EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	r := Verify(context.Background(), Input{Chain: is.Chain(), Roots: is.Roots(), Name: "localhost"})
	var got []Reason
	for _, p := range r.Problems {
		got = append(got, p.Reason)
	}
	want := []Reason{ReasonExpired, ReasonWeakKey, ReasonHostnameMismatch, ReasonWrongUsage}
	if r.Reason != ReasonExpired || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reason %s, problems %v, want %v", r.Reason, got, want)
	}
	if ok := verifyFixture(testpki.Good(t, testpki.ECDSAP256), nil); len(ok.Problems) != 0 {
		t.Errorf("good chain has problems %v", ok.Problems)
	}
}

func TestVerifyConnection(t *testing.T) {
	for _, tc := range []struct {
		f    *testpki.Fixture
		want Reason
	}{
		{testpki.Revoked(t), ReasonRevoked},
		{testpki.WeakKey(t), ReasonWeakKey},
		{testpki.Good(t, testpki.ECDSAP384), ReasonOK},
	} {
		t.Run(tc.f.Name, func(t *testing.T) {
			cert := tc.f.TLSCertificate()
			cert.OCSPStaple = tc.f.OCSP
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				s.Handshake()
				s.Close()
			}()
			defer func() { <-done }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conf := &tls.Config{RootCAs: tc.f.Roots, ServerName: tc.f.ServerName,
				VerifyConnection: VerifyConnection(ctx, Input{Roots: tc.f.Roots})}
			d := tls.Dialer{Config: conf, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
			conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			if err == nil {
				conn.Close()
			}
			if got := ReasonOf(err); got != tc.want {
				t.Errorf("reason %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

// TestIncompleteChainNamesThePeer: a chain without its intermediate is the
// presenter's to fix, and the advice names who presented it.
func TestIncompleteChainNamesThePeer(t *testing.T) {
	is := testpki.NewCA(t, testpki.ECDSAP256).NewIntermediate(t).Issue(t, testpki.Leaf{
		URIs: []string{"spiffe://corp.test/billing"},
		EKU:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	for _, tc := range []struct {
		usages []x509.ExtKeyUsage
		want   string
	}{
		{[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, "configure the client to send"},
		{[]x509.ExtKeyUsage{x509.ExtKeyUsageAny}, "configure the server to send"},
	} {
		r := Verify(context.Background(), Input{Chain: is.Chain()[:1], Roots: is.Roots(), Usages: tc.usages})
		if r.Reason != ReasonIncompleteChain || !strings.Contains(r.Message, tc.want) {
			t.Errorf("usages %v: %s %q, want %s with %q", tc.usages, r.Reason, r.Message, ReasonIncompleteChain, tc.want)
		}
	}
}

type fixedStatus RevocationStatus

func (f fixedStatus) CheckRevocation(context.Context, *x509.Certificate, *x509.Certificate, time.Time) (RevocationStatus, error) {
	return RevocationStatus(f), nil
}

func TestRefuseRevokedClient(t *testing.T) {
	chain := testpki.Good(t, testpki.ECDSAP256).Chain
	for _, tc := range []struct {
		st       RevocationState
		failOpen bool
		want     string
	}{
		{RevocationRevoked, true, string(ReasonRevoked)},
		{RevocationUnknown, false, ReasonRevocationUnknown},
		{RevocationUnknown, true, ""},
		{RevocationGood, false, ""},
	} {
		reason, msg := RefuseRevokedClient(context.Background(), fixedStatus{State: tc.st, Source: "test list"}, chain, time.Second, tc.failOpen)
		if reason != tc.want || (reason != "" && !strings.Contains(msg, fmt.Sprintf("%X", chain[0].SerialNumber))) {
			t.Errorf("%s failOpen=%v: %q %q, want reason %q and a message naming the serial", tc.st, tc.failOpen, reason, msg, tc.want)
		}
	}
}
