package testpki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

func verify(f *Fixture, roots *x509.CertPool, intermediates []*x509.Certificate) error {
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	_, err := f.Leaf().Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: f.ServerName,
		KeyUsages: []x509.ExtKeyUsage{f.Usage},
	})
	return err
}

func TestGoodFixturesVerify(t *testing.T) {
	for _, f := range GoodFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			if err := verify(f, f.Roots, f.Chain[1:]); err != nil {
				t.Fatalf("good fixture does not verify: %v", err)
			}
			if len(f.Chain) != 2 {
				t.Errorf("presented chain has %d certificates, want leaf and intermediate", len(f.Chain))
			}
		})
	}
}

func TestKeyTypes(t *testing.T) {
	for _, k := range KeyTypes {
		t.Run(k.String(), func(t *testing.T) {
			ca := NewCA(t, k)
			in := ca.NewIntermediate(t)
			is := in.Issue(t, Leaf{KeyType: k})
			for _, key := range []crypto.Signer{ca.Key, in.Key, is.Key} {
				if got := keyTypeOf(key); got != k {
					t.Errorf("key type %v, want %v", got, k)
				}
			}
			switch pub := is.Cert.PublicKey.(type) {
			case *rsa.PublicKey:
				if pub.N.BitLen() != k.rsaBits() {
					t.Errorf("RSA key has %d bits, want %d", pub.N.BitLen(), k.rsaBits())
				}
			case *ecdsa.PublicKey:
				want := map[KeyType]elliptic.Curve{ECDSAP256: elliptic.P256(), ECDSAP384: elliptic.P384()}[k]
				if pub.Curve != want {
					t.Errorf("curve %v, want %v", pub.Curve.Params().Name, k)
				}
			case ed25519.PublicKey:
				if k != Ed25519 {
					t.Errorf("Ed25519 key, want %v", k)
				}
			}
			same := func(a, b crypto.Signer) bool {
				return a.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(b.Public())
			}
			if same(ca.Key, in.Key) || same(in.Key, is.Key) || same(ca.Key, is.Key) {
				t.Error("certificates of one chain share a key")
			}
		})
	}
}

func TestBadFixturesHaveTheirDefect(t *testing.T) {
	now := time.Now()
	checks := map[string]func(t *testing.T, f *Fixture){
		"expired": func(t *testing.T, f *Fixture) {
			if !f.Leaf().NotAfter.Before(now) {
				t.Errorf("NotAfter %v is not in the past", f.Leaf().NotAfter)
			}
			var ie x509.CertificateInvalidError
			if err := verify(f, f.Roots, f.Chain[1:]); !errors.As(err, &ie) || ie.Reason != x509.Expired {
				t.Errorf("verify: %v, want expired", err)
			}
		},
		"not-yet-valid": func(t *testing.T, f *Fixture) {
			if !f.Leaf().NotBefore.After(now) {
				t.Errorf("NotBefore %v is not in the future", f.Leaf().NotBefore)
			}
			var ie x509.CertificateInvalidError
			if err := verify(f, f.Roots, f.Chain[1:]); !errors.As(err, &ie) || ie.Reason != x509.Expired {
				t.Errorf("verify: %v, want not yet valid", err)
			}
		},
		"wrong-host": func(t *testing.T, f *Fixture) {
			var he x509.HostnameError
			if err := verify(f, f.Roots, f.Chain[1:]); !errors.As(err, &he) {
				t.Errorf("verify: %v, want hostname error", err)
			}
			if err := f.Leaf().VerifyHostname("wrong.test"); err != nil {
				t.Errorf("leaf not valid for wrong.test: %v", err)
			}
		},
		"self-signed": func(t *testing.T, f *Fixture) {
			l := f.Leaf()
			if !bytes.Equal(l.RawIssuer, l.RawSubject) || l.IsCA {
				t.Errorf("leaf is not a self-issued end entity")
			}
			if err := l.CheckSignature(l.SignatureAlgorithm, l.RawTBSCertificate, l.Signature); err != nil {
				t.Errorf("leaf is not signed by its own key: %v", err)
			}
			var ue x509.UnknownAuthorityError
			if err := verify(f, f.Roots, nil); !errors.As(err, &ue) {
				t.Errorf("verify: %v, want unknown authority", err)
			}
		},
		"untrusted-root": func(t *testing.T, f *Fixture) {
			var ue x509.UnknownAuthorityError
			if err := verify(f, f.Roots, f.Chain[1:]); !errors.As(err, &ue) {
				t.Errorf("verify: %v, want unknown authority", err)
			}
			if err := verify(f, f.Issued.Roots(), f.Chain[1:]); err != nil {
				t.Errorf("chain does not verify even against its own root: %v", err)
			}
			if last := f.Chain[len(f.Chain)-1]; !bytes.Equal(last.RawSubject, last.RawIssuer) || !last.IsCA {
				t.Errorf("chain does not end at a root")
			}
		},
		"missing-intermediate": func(t *testing.T, f *Fixture) {
			if len(f.Chain) != 1 {
				t.Errorf("presented %d certificates, want the leaf alone", len(f.Chain))
			}
			var ue x509.UnknownAuthorityError
			if err := verify(f, f.Roots, nil); !errors.As(err, &ue) {
				t.Errorf("verify: %v, want unknown authority", err)
			}
			if err := verify(f, f.Roots, f.Issued.Intermediates); err != nil {
				t.Errorf("leaf does not verify with its intermediate: %v", err)
			}
		},
		"cn-only": func(t *testing.T, f *Fixture) {
			oidSAN := asn1.ObjectIdentifier{2, 5, 29, 17}
			for _, e := range f.Leaf().Extensions {
				if e.Id.Equal(oidSAN) {
					t.Errorf("leaf has a SAN extension")
				}
			}
			if f.Leaf().Subject.CommonName != f.ServerName {
				t.Errorf("CN %q, want %q", f.Leaf().Subject.CommonName, f.ServerName)
			}
			var he x509.HostnameError
			if err := verify(f, f.Roots, f.Chain[1:]); !errors.As(err, &he) {
				t.Errorf("verify: %v, want hostname error", err)
			}
		},
		"sha1-signed": func(t *testing.T, f *Fixture) {
			l := f.Leaf()
			if l.SignatureAlgorithm != x509.SHA1WithRSA {
				t.Fatalf("signature algorithm %v, want SHA1-RSA", l.SignatureAlgorithm)
			}
			// The signature is a real SHA-1 signature by the intermediate.
			digest := sha1.Sum(l.RawTBSCertificate)
			if err := rsa.VerifyPKCS1v15(f.Chain[1].PublicKey.(*rsa.PublicKey), crypto.SHA1, digest[:], l.Signature); err != nil {
				t.Errorf("SHA-1 signature does not verify: %v", err)
			}
			var ia x509.InsecureAlgorithmError
			if err := l.CheckSignatureFrom(f.Chain[1]); !errors.As(err, &ia) {
				t.Errorf("CheckSignatureFrom: %v, want insecure algorithm", err)
			}
			if err := verify(f, f.Roots, f.Chain[1:]); err == nil {
				t.Errorf("SHA-1 signed chain verifies")
			}
		},
		"rsa-1024": func(t *testing.T, f *Fixture) {
			pub, ok := f.Leaf().PublicKey.(*rsa.PublicKey)
			if !ok || pub.N.BitLen() != 1024 {
				t.Errorf("leaf key is not RSA-1024")
			}
		},
		"wrong-eku": func(t *testing.T, f *Fixture) {
			var ie x509.CertificateInvalidError
			if err := verify(f, f.Roots, f.Chain[1:]); !errors.As(err, &ie) || ie.Reason != x509.IncompatibleUsage {
				t.Errorf("verify: %v, want incompatible usage", err)
			}
		},
		"revoked": func(t *testing.T, f *Fixture) {
			if err := verify(f, f.Roots, f.Chain[1:]); err != nil {
				t.Errorf("revoked chain should still verify by path: %v", err)
			}
			crl, err := x509.ParseRevocationList(f.CRL)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(f.Chain[1]); err != nil {
				t.Errorf("CRL not signed by issuer: %v", err)
			}
			if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(f.Leaf().SerialNumber) != 0 {
				t.Errorf("CRL does not list the leaf")
			}
			resp, err := ocsp.ParseResponseForCert(f.OCSP, f.Leaf(), f.Chain[1])
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != ocsp.Revoked {
				t.Errorf("OCSP status %d, want revoked", resp.Status)
			}
		},
	}
	bad := BadFixtures(t)
	if len(bad) != len(checks) {
		t.Errorf("%d bad fixtures, %d checks: every fixture needs a check", len(bad), len(checks))
	}
	for _, f := range bad {
		t.Run(f.Name, func(t *testing.T) {
			check, ok := checks[f.Name]
			if !ok {
				t.Fatalf("no check for fixture %q", f.Name)
			}
			if f.Defect == "" {
				t.Error("bad fixture without Defect text")
			}
			check(t, f)
		})
	}
}

func TestGoodFixtureRevocationSaysGood(t *testing.T) {
	f := Good(t, ECDSAP384)
	crl, err := x509.ParseRevocationList(f.CRL)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 0 {
		t.Error("CRL of a good fixture lists certificates")
	}
	resp, err := ocsp.ParseResponseForCert(f.OCSP, f.Leaf(), f.Chain[1])
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != ocsp.Good {
		t.Errorf("OCSP status %d, want good", resp.Status)
	}
}

func TestClientFixture(t *testing.T) {
	f := Client(t)
	l := f.Leaf()
	if len(l.URIs) != 1 || l.URIs[0].String() != ClientURI {
		t.Errorf("URIs %v, want %s", l.URIs, ClientURI)
	}
	if len(l.EmailAddresses) != 1 || l.EmailAddresses[0] != ClientEmail {
		t.Errorf("emails %v, want %s", l.EmailAddresses, ClientEmail)
	}
	if len(l.ExtKeyUsage) != 1 || l.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("EKU %v, want clientAuth only", l.ExtKeyUsage)
	}
	f.Usage = x509.ExtKeyUsageServerAuth
	if err := verify(f, f.Roots, f.Chain[1:]); err == nil {
		t.Error("client certificate verifies for server authentication")
	}
}

// handshake runs a TLS handshake over loopback TCP (a net.Pipe would
// deadlock when the client aborts while the server still writes) and returns
// the client's error.
func handshake(t *testing.T, cert tls.Certificate, roots *x509.CertPool, serverName string) error {
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
		srv := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		srv.Handshake()
		srv.Close()
	}()
	defer func() { <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots, ServerName: serverName}, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		conn.Close()
	}
	return err
}

func TestTLSCertificateHandshake(t *testing.T) {
	for _, k := range GoodKeyTypes {
		t.Run(k.String(), func(t *testing.T) {
			f := Good(t, k)
			if err := handshake(t, f.TLSCertificate(), f.Roots, f.ServerName); err != nil {
				t.Errorf("handshake with full chain: %v", err)
			}
			if err := handshake(t, f.Issued.TLSCertificateLeafOnly(), f.Roots, f.ServerName); err == nil {
				t.Errorf("handshake without intermediate succeeded")
			}
		})
	}
	ip := IPSAN(t)
	if err := handshake(t, ip.TLSCertificate(), ip.Roots, ip.ServerName); err != nil {
		t.Errorf("handshake with IP SAN: %v", err)
	}
}

func TestWriteFiles(t *testing.T) {
	f := Good(t, RSA2048)
	files := f.WriteFiles(t, t.TempDir())
	if _, err := tls.LoadX509KeyPair(files.Chain, files.Key); err != nil {
		t.Fatalf("load written chain and key: %v", err)
	}
	fi, err := os.Stat(files.Key)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	cert, _ := os.ReadFile(files.Cert)
	if !bytes.Equal(cert, CertsPEM(f.Leaf())) {
		t.Error("cert.pem is not the leaf alone")
	}
	root, _ := os.ReadFile(files.Root)
	if !bytes.Equal(root, CertsPEM(f.Root)) {
		t.Error("root.pem is not the root")
	}
}

// TestOpenSSLAgrees checks the fixtures with an independent verifier.
func TestOpenSSLAgrees(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	run := func(f *Fixture, extra ...string) (string, error) {
		dir := t.TempDir()
		files := f.WriteFiles(t, dir)
		untrusted := filepath.Join(dir, "untrusted.pem")
		if err := os.WriteFile(untrusted, append(CertsPEM(f.Chain[1:]...), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"verify", "-CAfile", files.Root}
		if len(f.Chain) > 1 {
			args = append(args, "-untrusted", untrusted)
		}
		args = append(args, extra...)
		args = append(args, files.Cert)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, openssl, args...).CombinedOutput()
		return string(out), err
	}
	for _, f := range GoodFixtures(t) {
		if out, err := run(f); err != nil {
			t.Errorf("%s: openssl verify rejects a good fixture: %v\n%s", f.Name, err, out)
		}
	}
	for _, tc := range []struct {
		f     *Fixture
		extra []string
		want  string
	}{
		{Expired(t), nil, "expired"},
		{NotYetValid(t), nil, "not yet valid"},
		{MissingIntermediate(t), nil, "unable to get local issuer"},
		{UntrustedRoot(t), nil, "self-signed certificate in certificate chain"},
		{SelfSigned(t), nil, "self-signed certificate"},
		{WrongHost(t), []string{"-verify_hostname", "localhost"}, "hostname mismatch"},
		{SHA1Signed(t), []string{"-auth_level", "1"}, "digest algorithm too weak"},
		{WeakKey(t), []string{"-auth_level", "2"}, "key too weak"},
		{WrongEKU(t), []string{"-purpose", "sslserver"}, "certificate purpose"},
	} {
		out, err := run(tc.f, tc.extra...)
		if err == nil {
			t.Errorf("%s: openssl verify accepts it:\n%s", tc.f.Name, out)
			continue
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: openssl says %q, want it to mention %q", tc.f.Name, out, tc.want)
		}
	}
}

func TestSHA1NeedsRSAOrECDSA(t *testing.T) {
	ca := NewCA(t, Ed25519)
	if _, err := ca.issue(Leaf{SHA1: true}); err == nil {
		t.Error("SHA-1 signature with an Ed25519 issuer did not fail")
	}
	ec := NewCA(t, ECDSAP256).Issue(t, Leaf{SHA1: true})
	if ec.Cert.SignatureAlgorithm != x509.ECDSAWithSHA1 {
		t.Errorf("signature algorithm %v, want ECDSA-SHA1", ec.Cert.SignatureAlgorithm)
	}
}

func TestEmbeddedRSAKeys(t *testing.T) {
	for _, bits := range []int{1024, 2048, 4096} {
		keys, err := loadRSAKeys(bits)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if err := k.Validate(); err != nil {
				t.Errorf("RSA-%d key invalid: %v", bits, err)
			}
			if seen[k.N.String()] {
				t.Errorf("RSA-%d keys repeat", bits)
			}
			seen[k.N.String()] = true
		}
	}
}
