package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

func init() {
	// Encrypted-key tests need not pay for production scrypt work.
	scryptN = 1 << 10
}

func newTestCA(t testing.TB, o InitOptions) (*CA, string) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	if o.PublicURL == "" {
		o.PublicURL = "http://127.0.0.1:8889"
	}
	ca, err := Init(context.Background(), home, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close() })
	return ca, home
}

func TestInitLayoutAndPermissions(t *testing.T) {
	ca, home := newTestCA(t, InitOptions{Name: "Test CA"})
	dir := Dir(home)
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("CA directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, k := range []string{rootKeyFile, interKeyFile, ocspKeyFile, databaseFile} {
		fi, err := os.Stat(filepath.Join(dir, k))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, %v; want 0600", k, fi.Mode().Perm(), err)
		}
	}
	root, inter := ca.Root(), ca.Intermediate()
	if !root.IsCA || root.MaxPathLen != -1 || root.CheckSignatureFrom(root) != nil {
		t.Errorf("root is not a self-signed CA without pathLen: IsCA=%v MaxPathLen=%d", root.IsCA, root.MaxPathLen)
	}
	if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero || inter.CheckSignatureFrom(root) != nil {
		t.Errorf("intermediate is not a CA with pathLen 0 signed by the root")
	}
	if !bytes.Equal(inter.AuthorityKeyId, root.SubjectKeyId) || len(inter.SubjectKeyId) == 0 {
		t.Error("intermediate AKI does not match root SKI")
	}
	if _, err := Init(context.Background(), home, InitOptions{}); !errors.Is(err, ErrExists) {
		t.Errorf("second init: got %v, want ErrExists", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(home, ".ca-init-*"))
	if len(leftovers) != 0 {
		t.Errorf("init left temporary directories: %v", leftovers)
	}
}

func TestIssueProfilesVerify(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	for _, c := range []struct {
		profile Profile
		good    []x509.ExtKeyUsage
		bad     []x509.ExtKeyUsage
	}{
		{ProfileServer, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{ProfileClient, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{ProfilePeer, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}},
	} {
		t.Run(string(c.profile), func(t *testing.T) {
			is, err := ca.IssueLeaf(ctx, Request{Profile: c.profile, DNS: []string{"api.example.test"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, CommonName: "api.example.test"})
			if err != nil {
				t.Fatal(err)
			}
			leaf := is.Leaf
			if leaf.IsCA || !leaf.BasicConstraintsValid || len(leaf.SubjectKeyId) != 20 || !bytes.Equal(leaf.AuthorityKeyId, ca.Intermediate().SubjectKeyId) {
				t.Errorf("leaf basics wrong: IsCA=%v SKI=%x AKI=%x", leaf.IsCA, leaf.SubjectKeyId, leaf.AuthorityKeyId)
			}
			if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("ECDSA leaf key usage %b, want digitalSignature only", leaf.KeyUsage)
			}
			if leaf.SerialNumber.BitLen() < 100 || leaf.SerialNumber.Sign() <= 0 {
				t.Errorf("serial %x is too short", leaf.SerialNumber)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got != DefaultValidity-time.Second {
				t.Errorf("validity %v, want 90 days", got)
			}
			if d := time.Since(leaf.NotBefore); d < 59*time.Second || d > 2*time.Minute {
				t.Errorf("notBefore is %v ago, want about one minute", d)
			}
			if len(leaf.CRLDistributionPoints) != 1 || len(leaf.OCSPServer) != 1 || len(leaf.IssuingCertificateURL) != 1 {
				t.Errorf("CDP/AIA missing with a public URL configured")
			}
			opts := x509.VerifyOptions{Roots: ca.RootPool(), Intermediates: ca.IntermediatePool(), DNSName: "api.example.test", KeyUsages: c.good}
			if _, err := leaf.Verify(opts); err != nil {
				t.Errorf("verify with %v: %v", c.good, err)
			}
			opts.KeyUsages = c.bad
			if _, err := leaf.Verify(opts); err == nil {
				t.Errorf("verify with the wrong usage %v succeeded", c.bad)
			}
			if _, err := ca.Lookup(ctx, leaf.SerialNumber); err != nil {
				t.Errorf("issued certificate not in the store: %v", err)
			}
			if _, err := is.TLSCertificate.Leaf.Verify(x509.VerifyOptions{Roots: ca.RootPool(), Intermediates: ca.IntermediatePool(), KeyUsages: c.good}); err != nil {
				t.Error(err)
			}
			opensslVerify(t, ca, is, c.profile)
		})
	}
}

// opensslVerify checks the chain with openssl as an independent verifier.
func opensslVerify(t *testing.T, ca *CA, is *Issued, p Profile) {
	t.Helper()
	openssl := testtool.Need(t, "openssl")
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	chain := filepath.Join(dir, "chain.pem")
	leaf := filepath.Join(dir, "leaf.pem")
	os.WriteFile(root, ca.RootPEM(), 0o644)
	os.WriteFile(chain, ca.ChainPEM(), 0o644)
	os.WriteFile(leaf, is.CertPEM, 0o644)
	purpose := map[Profile]string{ProfileServer: "sslserver", ProfileClient: "sslclient", ProfilePeer: "sslserver"}[p]
	args := []string{"verify", "-x509_strict", "-purpose", purpose, "-CAfile", root, "-untrusted", chain, leaf}
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if p == ProfilePeer {
		args[3] = "sslclient"
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestIssueRefusesBadRequests(t *testing.T) {
	_, cidr, _ := net.ParseCIDR("10.0.0.0/8")
	ca, _ := newTestCA(t, InitOptions{PermitDNS: []string{"example.test"}, PermitIPs: []*net.IPNet{cidr}})
	ctx := context.Background()
	for name, req := range map[string]Request{
		"no names":          {Profile: ProfileServer},
		"unknown profile":   {Profile: "admin", DNS: []string{"a.example.test"}},
		"too long":          {Profile: ProfileServer, DNS: []string{"a.example.test"}, Validity: 399 * 24 * time.Hour},
		"too short":         {Profile: ProfileServer, DNS: []string{"a.example.test"}, Validity: time.Minute},
		"outside dns":       {Profile: ProfileServer, DNS: []string{"evil.example.org"}},
		"outside ip":        {Profile: ProfileServer, IPs: []net.IP{net.ParseIP("192.168.1.1")}},
		"bad dns":           {Profile: ProfileServer, DNS: []string{"a_b.example.test"}},
		"cn not in sans":    {Profile: ProfileServer, DNS: []string{"a.example.test"}, CommonName: "b.example.test"},
		"bad email":         {Profile: ProfileClient, Emails: []string{"Alice <a@example.test>"}},
		"relative uri":      {Profile: ProfileClient, URIs: []string{"/just/a/path"}},
		"wildcard too high": {Profile: ProfileServer, DNS: []string{"*.test"}},
	} {
		if _, err := ca.IssueLeaf(ctx, req); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: got %v, want ErrPolicy", name, err)
		}
	}
	list, err := ca.List(ctx, ListOptions{})
	if err != nil || len(list) != 0 {
		t.Errorf("refused requests left %d certificates in the store (%v)", len(list), err)
	}
	if _, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"api.example.test", "*.svc.example.test"}, IPs: []net.IP{net.ParseIP("10.1.2.3")}}); err != nil {
		t.Errorf("names inside the constraints refused: %v", err)
	}
}

func TestOpenRefusesUnsafeOrWrong(t *testing.T) {
	ctx := context.Background()
	ca, home := newTestCA(t, InitOptions{Passphrase: []byte("correct horse")})
	ca.Close()
	if _, err := Open(ctx, home, Options{}); !errors.Is(err, ErrPassphraseNeeded) {
		t.Errorf("encrypted keys without passphrase: got %v", err)
	} else if msg := err.Error(); strings.Count(msg, "passphrase was given") != 1 || !strings.Contains(msg, "--passphrase-file") {
		t.Errorf("encrypted keys without passphrase: message %q should say it once and name --passphrase-file", msg)
	}
	if _, err := Open(ctx, home, Options{Passphrase: []byte("wrong")}); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: got %v", err)
	}
	ca2, err := Open(ctx, home, Options{Passphrase: []byte("correct horse")})
	if err != nil {
		t.Fatal(err)
	}
	ca2.Close()
	key := filepath.Join(Dir(home), interKeyFile)
	raw, _ := os.ReadFile(key)
	if !bytes.Contains(raw, []byte(encryptedKeyType)) || bytes.Contains(raw, []byte("BEGIN PRIVATE KEY")) {
		t.Error("key file is not encrypted at rest")
	}
	os.Chmod(key, 0o644)
	if _, err := Open(ctx, home, Options{Passphrase: []byte("correct horse")}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: got %v", err)
	}
	os.Chmod(key, 0o600)
	os.Chmod(Dir(home), 0o755)
	if _, err := Open(ctx, home, Options{Passphrase: []byte("correct horse")}); err == nil || !strings.Contains(err.Error(), "unsafe mode") {
		t.Errorf("readable CA directory: got %v", err)
	}
	os.Chmod(Dir(home), 0o700)
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "nothing"), Options{}); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("empty home: got %v", err)
	}
}

func TestInitIfMissingIsIdempotent(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	a, err := InitIfMissing(ctx, home, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := InitIfMissing(ctx, home, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !bytes.Equal(a.RootPEM(), b.RootPEM()) {
		t.Fatal("second InitIfMissing made a new root")
	}
	is, err := b.IssueLeaf(ctx, LocalServerRequest())
	if err != nil {
		t.Fatal(err)
	}
	if is.Leaf.DNSNames[0] != "localhost" || len(is.Leaf.IPAddresses) != 2 {
		t.Errorf("local server certificate names: %v %v", is.Leaf.DNSNames, is.Leaf.IPAddresses)
	}
	if got, want := is.RenewAt(), is.Leaf.NotBefore.Add(is.Leaf.NotAfter.Sub(is.Leaf.NotBefore)*2/3); !got.Equal(want) {
		t.Errorf("RenewAt %v, want %v", got, want)
	}
	blk, _ := pem.Decode(is.KeyPEM)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Error("KeyPEM is not PKCS#8 PEM")
	}
}

func TestParseSerial(t *testing.T) {
	for in, want := range map[string]string{"0ABC": "abc", "0x0abc": "abc", "0a:bc": "abc", " abc ": "abc"} {
		n, err := ParseSerial(in)
		if err != nil || SerialString(n) != want {
			t.Errorf("ParseSerial(%q) = %v, %v; want %s", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "0", "xyz", "-1", strings.Repeat("f", 41)} {
		if _, err := ParseSerial(bad); err == nil {
			t.Errorf("ParseSerial(%q) accepted", bad)
		}
	}
}
