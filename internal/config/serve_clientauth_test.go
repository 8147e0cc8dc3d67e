package config

import (
	"context"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/gateway"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// The worked example of docs/config.md becomes per-route client
// authentication: who may call which route, and the local CA's store as
// the revocation source.
func TestWorkedMTLSExampleBecomesRoutePolicies(t *testing.T) {
	f, err := Load("../../examples/mtls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	localRev := certcheck.RevocationFunc(func(context.Context, *x509.Certificate, *x509.Certificate, time.Time) (certcheck.RevocationStatus, error) {
		return certcheck.RevocationStatus{State: certcheck.RevocationRevoked}, nil
	})
	env := ServeEnv{Stdout: io.Discard, Stderr: io.Discard,
		LocalCertificates: func(hosts []string, lazy bool) (certsource.Source, error) {
			return certsource.NewStatic(testpki.Good(t, testpki.ECDSAP256).TLSCertificate())
		},
		LocalClientCA: func() (*LocalClientCA, error) { return &LocalClientCA{Roots: ca.Pool(), Revocation: localRev}, nil },
	}
	cfg, _, err := f.Gateway(env)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sites[0]
	if s.ClientCAs == nil {
		t.Fatal("site without client CAs")
	}
	billing := authz.IdentityFromCertificate(ca.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}}).Cert)
	admin := authz.IdentityFromCertificate(ca.Issue(t, testpki.Leaf{Emails: []string{"admin@corp.test"}}).Cert)
	byPath := map[string]*gateway.Route{}
	for _, r := range s.Routes {
		byPath[r.PathPrefix] = r
	}
	if r := byPath["/health"]; r.ClientAuth != gateway.ClientAuthOff || r.Policy != nil || r.Revocation != nil {
		t.Errorf("/health = %+v, want no client authentication", r)
	}
	for path, want := range map[string]map[*authz.Identity]bool{
		"/payments": {billing: true, admin: false},
		"/admin":    {billing: false, admin: true},
	} {
		r := byPath[path]
		if r.ClientAuth != gateway.ClientAuthRequire || r.Revocation == nil {
			t.Fatalf("%s = %+v, want require with revocation", path, r)
		}
		for id, allowed := range want {
			if d := r.Policy.Decide(id); d.Allowed != allowed {
				t.Errorf("%s for %s: %+v, want allowed=%v", path, id, d, allowed)
			}
		}
		st, _ := r.Revocation.Checker.CheckRevocation(context.Background(), billing.Certificate, ca.Cert, time.Now())
		if st.State != certcheck.RevocationRevoked || r.Revocation.FailOpen {
			t.Errorf("%s revocation does not ask the local CA store, or fails open", path)
		}
	}
}

func TestClientCAFilesAndCRLFileAreRead(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	other := testpki.NewCA(t, testpki.ECDSAP256)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.pem", testpki.CertsPEM(ca.Cert))
	write("b.pem", testpki.CertsPEM(other.Cert))
	write("a.crl", ca.CRL(t))
	testpki.Good(t, testpki.ECDSAP256).WriteFiles(t, dir)
	yaml := `
sites:
  - hosts: [api.corp.test]
    certificate: {source: files, cert: cert.pem, key: key.pem}
    client_auth: optional
    client_ca: [a.pem, b.pem]
    authz: [any]
    revocation: {crl: [a.crl], failure: open}
    routes:
      - {path: /, handler: whoami}
`
	path := filepath.Join(dir, "tlsgate.yaml")
	write("tlsgate.yaml", []byte(yaml))
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := f.Gateway(ServeEnv{Dir: dir, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sites[0]
	for _, c := range []*testpki.CA{ca, other} {
		leaf := c.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/x"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: s.ClientCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("client CA %s not trusted: %v", c.Cert.Subject.CommonName, err)
		}
	}
	r := s.Routes[0]
	if r.ClientAuth != gateway.ClientAuthOptional || r.Revocation == nil || !r.Revocation.FailOpen || r.Revocation.Run == nil {
		t.Errorf("route = %+v / %+v", r, r.Revocation)
	}
	// Without client_ca and without a local CA, the error names the key.
	f2, err := Parse("x.yaml", []byte("sites:\n  - hosts: [a.test]\n    client_auth: require\n    authz: [any]\n    certificate: {source: files, cert: c, key: k}\n    routes: [{path: /, handler: whoami}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f2.Gateway(ServeEnv{Dir: dir, Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "x.yaml:2:5: sites[0].client_ca: the local CA is not available") {
		t.Errorf("error = %v", err)
	}
}
