package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func makeCSR(t *testing.T, key any, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestSignCSR(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{PermitDNS: []string{"example.test"}})
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := makeCSR(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "api.example.test", Organization: []string{"Ignored Inc"}}, DNSNames: []string{"api.example.test"}})
	is, err := ca.SignCSR(ctx, good, SignOptions{Profile: ProfileServer})
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(is.Leaf.PublicKey, key.Public()) || is.KeyPEM != nil || len(is.Leaf.Subject.Organization) != 0 {
		t.Errorf("signed certificate: key match %v, KeyPEM %v, O %v", publicKeysEqual(is.Leaf.PublicKey, key.Public()), is.KeyPEM != nil, is.Leaf.Subject.Organization)
	}
	cnOnly := makeCSR(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "legacy.example.test"}})
	if is, err := ca.SignCSR(ctx, cnOnly, SignOptions{Profile: ProfileServer}); err != nil || len(is.Leaf.DNSNames) != 1 || is.Leaf.DNSNames[0] != "legacy.example.test" {
		t.Errorf("CN-only CSR: %v", err)
	}

	blk, _ := pem.Decode(good)
	bad := append([]byte(nil), blk.Bytes...)
	bad[len(bad)-5] ^= 0x01 // inside the signature
	tampered := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad})
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, c := range map[string]struct {
		csr  []byte
		want string
	}{
		"bad signature": {tampered, "signature"},
		"rsa-1024":      {makeCSR(t, weak, &x509.CertificateRequest{DNSNames: []string{"w.example.test"}}), "too small"},
		"outside":       {makeCSR(t, key, &x509.CertificateRequest{DNSNames: []string{"evil.example.org"}}), "name constraints"},
		"not pem":       {[]byte("hello"), "no PEM block"},
		"wrong block":   {is.CertPEM, "not CERTIFICATE REQUEST"},
		"garbage der":   {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "malformed"},
	} {
		_, err := ca.SignCSR(ctx, c.csr, SignOptions{Profile: ProfileServer})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %q", name, err, c.want)
		}
	}
	list, _ := ca.List(ctx, ListOptions{})
	if len(list) != 2 {
		t.Errorf("%d certificates recorded, want the 2 good ones", len(list))
	}
}

func TestRenew(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	old, err := ca.IssueLeaf(ctx, Request{Profile: ProfileClient, Emails: []string{"bob@example.test"}, CommonName: "bob", Validity: 7 * 24 * 3600 * 1e9})
	if err != nil {
		t.Fatal(err)
	}
	same, err := ca.Renew(ctx, old.Leaf, RenewOptions{Key: old.Key})
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(same.Leaf.PublicKey, old.Key.Public()) || same.Leaf.Subject.CommonName != "bob" || same.Leaf.EmailAddresses[0] != "bob@example.test" ||
		same.Leaf.NotAfter.Sub(same.Leaf.NotBefore) != old.Leaf.NotAfter.Sub(old.Leaf.NotBefore) || same.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Error("renewal changed key, names, lifetime or profile")
	}
	fresh, err := ca.Renew(ctx, old.Leaf, RenewOptions{Rekey: true})
	if err != nil {
		t.Fatal(err)
	}
	if publicKeysEqual(fresh.Leaf.PublicKey, old.Key.Public()) || fresh.KeyPEM == nil {
		t.Error("rekey kept the old key")
	}
	other, _ := GenerateKey(ECDSAP256)
	if _, err := ca.Renew(ctx, old.Leaf, RenewOptions{Key: other}); !errors.Is(err, ErrPolicy) {
		t.Errorf("renew with someone else's key: %v", err)
	}
	if err := ca.Revoke(ctx, old.Leaf.SerialNumber, ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Renew(ctx, old.Leaf, RenewOptions{}); !errors.Is(err, ErrPolicy) {
		t.Errorf("renew of a revoked certificate: %v", err)
	}
	foreignCA, _ := newTestCA(t, InitOptions{})
	foreign, _ := foreignCA.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"x.example.test"}})
	if _, err := ca.Renew(ctx, foreign.Leaf, RenewOptions{}); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("renew of another CA's certificate: %v", err)
	}
	evs, _ := ca.Store().Events(ctx, 0, 0)
	renews := 0
	for _, e := range evs {
		if e.Action == "renew" && strings.Contains(e.Detail, "renews "+old.Serial) {
			renews++
		}
	}
	if renews != 2 {
		t.Errorf("%d renew entries naming the old serial in the audit log, want 2", renews)
	}
}

func TestPKCS12(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	is, err := ca.IssueLeaf(context.Background(), Request{Profile: ProfileClient, Emails: []string{"c@example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := ca.PKCS12(is, "pw")
	if err != nil {
		t.Fatal(err)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(p12, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Equal(is.Leaf) || len(chain) != 1 || !chain[0].Equal(ca.Intermediate()) || !publicKeysEqual(key.(crypto.Signer).Public(), is.Leaf.PublicKey) {
		t.Error("PKCS#12 does not hold key, leaf and intermediate")
	}
	if _, _, _, err := pkcs12.DecodeChain(p12, "wrong"); err == nil {
		t.Error("PKCS#12 opened with the wrong password")
	}
}

func TestBootstrap(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	pub, err := ca.NewPublisher(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pub.Handler())
	defer srv.Close()
	fp := ca.RootFingerprint()
	pemBytes, root, err := Bootstrap(ctx, srv.URL, strings.ToUpper(fp))
	if err != nil {
		t.Fatal(err)
	}
	if !root.Equal(ca.Root()) || string(pemBytes) != string(ca.RootPEM()) {
		t.Error("bootstrapped root differs")
	}
	home := t.TempDir()
	path, err := SaveBootstrappedRoot(home, root)
	if err != nil || filepath.Base(path) != fp+".pem" {
		t.Errorf("saved as %s, %v", path, err)
	}
	other, _ := newTestCA(t, InitOptions{})
	if _, _, err := Bootstrap(ctx, srv.URL, other.RootFingerprint()); err == nil {
		t.Error("bootstrap accepted a fingerprint the server does not have")
	}
	// A server in the path that answers any fingerprint with its own root.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(other.RootPEM()) }))
	defer liar.Close()
	if _, _, err := Bootstrap(ctx, liar.URL, fp); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("bootstrap accepted a root with another fingerprint: %v", err)
	}
	if _, _, err := Bootstrap(ctx, srv.URL, "abcd"); err == nil {
		t.Error("short fingerprint accepted")
	}
}

func TestSystemTrust(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	st := SystemTrust{Dir: filepath.Join(dir, "certs"), Update: []string{"sh", "-c", "echo \"$@\" >> " + marker, "update"}}
	dry := st
	dry.DryRun = true
	acts, err := dry.Trust(ctx, ca.Root())
	if err != nil || len(acts) != 2 {
		t.Fatal(acts, err)
	}
	if _, err := os.Stat(st.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("dry run changed the store")
	}
	if _, err := st.Trust(ctx, ca.Root()); err != nil {
		t.Fatal(err)
	}
	installed := filepath.Join(st.Dir, TrustFileName(ca.Root()))
	data, err := os.ReadFile(installed)
	if err != nil || string(data) != string(ca.RootPEM()) {
		t.Fatalf("root not installed: %v", err)
	}
	if _, err := st.Untrust(ctx, ca.Root()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(installed); !errors.Is(err, os.ErrNotExist) {
		t.Error("untrust left the file")
	}
	ran, _ := os.ReadFile(marker)
	if string(ran) != "\n--fresh\n" {
		t.Errorf("update command runs: %q, want one plain and one --fresh", ran)
	}
	if _, err := st.Untrust(ctx, ca.Root()); err == nil {
		t.Error("untrust of a root not installed succeeded")
	}
}
