package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

// testCert is a certificate minted for one test, with its key.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mint signs tmpl with parent (self-signed when parent is nil).
func mint(t testing.TB, tmpl *x509.Certificate, parent *testCert) *testCert {
	t.Helper()
	key := newKey(t)
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

func newCA(t testing.TB, name string) *testCert {
	return mint(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, nil)
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newClientCert(t testing.TB, ca *testCert, cn string, uris ...string) *testCert {
	tmpl := &x509.Certificate{
		Subject:        pkix.Name{CommonName: cn, Organization: []string{"Corp, Inc."}},
		DNSNames:       []string{"billing.corp.test"},
		EmailAddresses: []string{"ops@corp.test"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.7")},
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:       x509.KeyUsageDigitalSignature,
		SerialNumber:   big.NewInt(0x0a1b2c),
	}
	for _, u := range uris {
		tmpl.URIs = append(tmpl.URIs, mustURL(t, u))
	}
	return mint(t, tmpl, ca)
}

func TestIdentityFromCertificate(t *testing.T) {
	ca := newCA(t, "Test CA")
	c := newClientCert(t, ca, "billing", "spiffe://corp.test/billing")
	id := IdentityFromCertificate(c.cert)
	if id.CommonName != "billing" || id.Subject != "CN=billing,O=Corp\\, Inc." {
		t.Errorf("subject = %q, CN = %q", id.Subject, id.CommonName)
	}
	if id.Serial != "a1b2c" {
		t.Errorf("serial = %q, want a1b2c", id.Serial)
	}
	if len(id.URIs) != 1 || id.URIs[0] != "spiffe://corp.test/billing" {
		t.Errorf("URIs = %v", id.URIs)
	}
	if len(id.IPs) != 1 || id.IPs[0].String() != "10.0.0.7" {
		t.Errorf("IPs = %v (want the IPv4 form, not ::ffff:)", id.IPs)
	}
	if len(id.Fingerprint) != 64 || len(id.SPKIFingerprint) != 64 || id.Fingerprint == id.SPKIFingerprint {
		t.Errorf("fingerprints %q / %q", id.Fingerprint, id.SPKIFingerprint)
	}
	pin, err := ParseSPKIFingerprint(id.SPKIPin())
	if err != nil || pin != id.SPKIFingerprint {
		t.Errorf("SPKIPin %q does not read back: %v", id.SPKIPin(), err)
	}
	if id.String() != "spiffe://corp.test/billing" {
		t.Errorf("String() = %q", id.String())
	}
}

// TestIdentityFromState runs real mTLS handshakes and checks that only a
// verified certificate yields an identity.
func TestIdentityFromState(t *testing.T) {
	ca := newCA(t, "Client CA")
	other := newCA(t, "Other CA")
	server := mint(t, &x509.Certificate{DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca)
	good := newClientCert(t, ca, "billing", "spiffe://corp.test/billing")
	stranger := newClientCert(t, other, "billing", "spiffe://corp.test/billing")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	for _, tc := range []struct {
		name     string
		auth     tls.ClientAuthType
		client   *testCert
		wantID   bool
		wantFail bool
	}{
		{"verified", tls.RequireAndVerifyClientCert, good, true, false},
		{"none sent, optional", tls.VerifyClientCertIfGiven, nil, false, false},
		{"unverified, accepted as-is", tls.RequireAnyClientCert, stranger, false, false},
		{"untrusted, refused", tls.RequireAndVerifyClientCert, stranger, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, err := handshake(t, server, pool, tc.auth, tc.client)
			if tc.wantFail {
				if err == nil {
					t.Fatal("handshake succeeded with an untrusted client certificate")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id, err := IdentityFromState(state)
			if tc.wantID != (err == nil) {
				t.Fatalf("IdentityFromState = %v, %v; want identity %v", id, err, tc.wantID)
			}
			if tc.wantID && id.URIs[0] != "spiffe://corp.test/billing" {
				t.Errorf("identity %v", id)
			}
		})
	}
}

func handshake(t *testing.T, server *testCert, clientCAs *x509.CertPool, auth tls.ClientAuthType, client *testCert) (*tls.ConnectionState, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	deadline := time.Now().Add(10 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	// The server certificate is signed by the client CA in this test.
	ccfg := &tls.Config{ServerName: "localhost", RootCAs: clientCAs, MinVersion: tls.VersionTLS12}
	if client != nil {
		// Send the certificate even when its issuer is not among the CAs the
		// server asks for, as a hostile client would.
		ccfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tls.Certificate{Certificate: [][]byte{client.cert.Raw}, PrivateKey: client.key}, nil
		}
	}
	scfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{server.cert.Raw}, PrivateKey: server.key}},
		ClientAuth:   auth, ClientCAs: clientCAs, MinVersion: tls.VersionTLS12,
	}
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(b, ccfg)
		err := c.Handshake()
		if err == nil {
			// TLS 1.3 reports a client certificate rejection on first read.
			_, err = c.Read(make([]byte, 1))
		}
		errc <- err
	}()
	s := tls.Server(a, scfg)
	err := s.Handshake()
	if err != nil {
		<-errc
		return nil, err
	}
	st := s.ConnectionState()
	s.Write([]byte{1})
	<-errc
	return &st, nil
}
