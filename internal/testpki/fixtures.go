package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Fixture is a ready-made server (or client) identity with exactly one
// property, good or bad, named by Name.
type Fixture struct {
	Name       string              // short name for test tables, e.g. "expired"
	Defect     string              // what is wrong with it; empty for good fixtures
	Chain      []*x509.Certificate // as the peer presents it, leaf first
	Key        crypto.Signer       // the leaf's private key
	Root       *x509.Certificate   // the root the client trusts
	Roots      *x509.CertPool      // pool holding Root only
	ServerName string              // the name to dial and verify ("" for client certificates)
	Usage      x509.ExtKeyUsage    // the usage to verify for: serverAuth, or clientAuth for Client
	Issued     *Issued             // the full issuance, including certificates not presented

	// CRL is a DER certificate revocation list from the leaf's issuer and
	// OCSP a DER OCSP response for the leaf (to staple): both say "good"
	// except for the Revoked fixture, where both say "revoked". OCSP is nil
	// when the issuer's key is Ed25519, which x/crypto/ocsp cannot sign with;
	// both are nil for the SelfSigned fixture.
	CRL  []byte
	OCSP []byte
}

// Leaf returns the presented leaf certificate.
func (f *Fixture) Leaf() *x509.Certificate { return f.Chain[0] }

// TLSCertificate returns the presented chain and key for tls.Config.Certificates.
func (f *Fixture) TLSCertificate() tls.Certificate { return tlsCertificate(f.Chain, f.Key) }

// WriteFiles writes the presented chain, key and trusted root as PEM files
// into dir (see Files).
func (f *Fixture) WriteFiles(t testing.TB, dir string) Files {
	t.Helper()
	return writeFiles(t, dir, f.Chain, f.Key, f.Root)
}

// Dial name used by server fixtures.
const defaultServerName = "localhost"

func fromIssued(t testing.TB, name, defect string, is *Issued, serverName string) *Fixture {
	t.Helper()
	f := &Fixture{
		Name: name, Defect: defect,
		Chain: is.Chain(), Key: is.Key, Root: is.Root, Roots: is.Roots(),
		ServerName: serverName, Usage: x509.ExtKeyUsageServerAuth, Issued: is,
	}
	if !is.Issuer.Cert.IsCA { // a self-signed leaf has no CA to speak for it
		return f
	}
	f.CRL = is.Issuer.CRL(t)
	if is.Issuer.KeyType() != Ed25519 { // x/crypto/ocsp cannot sign with Ed25519
		f.OCSP = is.Issuer.OCSPResponse(t, is.Cert, ocsp.Good)
	}
	return f
}

// Good returns a valid root -> intermediate -> leaf chain for localhost and
// 127.0.0.1 with every certificate's key of type k.
func Good(t testing.TB, k KeyType) *Fixture {
	t.Helper()
	in := NewCA(t, k).NewIntermediate(t)
	is := in.Issue(t, Leaf{KeyType: k})
	return fromIssued(t, "good-"+k.String(), "", is, defaultServerName)
}

// Expired returns a chain whose leaf expired ten days ago.
func Expired(t testing.TB) *Fixture {
	t.Helper()
	now := time.Now()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{
		NotBefore: now.AddDate(0, 0, -100), NotAfter: now.AddDate(0, 0, -10),
	})
	return fromIssued(t, "expired", "leaf expired 10 days ago", is, defaultServerName)
}

// NotYetValid returns a chain whose leaf becomes valid in ten days.
func NotYetValid(t testing.TB) *Fixture {
	t.Helper()
	now := time.Now()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{
		NotBefore: now.AddDate(0, 0, 10), NotAfter: now.AddDate(0, 0, 100),
	})
	return fromIssued(t, "not-yet-valid", "leaf valid only from 10 days from now", is, defaultServerName)
}

// WrongHost returns a chain for wrong.test and other.test, to be dialled as localhost.
func WrongHost(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{DNS: []string{"wrong.test", "other.test"}})
	return fromIssued(t, "wrong-host", "leaf names wrong.test and other.test, not localhost", is, defaultServerName)
}

// SelfSigned returns a self-signed leaf (not a CA) for localhost; the client
// trusts an unrelated root.
func SelfSigned(t testing.TB) *Fixture {
	t.Helper()
	key := NewKey(t, ECDSAP256)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, 90),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testpki: self-signed leaf: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	trusted := NewCA(t, ECDSAP256)
	self := &CA{Cert: cert, Key: key}
	is := &Issued{Cert: cert, Key: key, Root: trusted.Cert, Issuer: self}
	f := fromIssued(t, "self-signed", "leaf signed by its own key", is, defaultServerName)
	return f
}

// UntrustedRoot returns a complete chain, root included, from a root the
// client does not trust; Roots holds a different root.
func UntrustedRoot(t testing.TB) *Fixture {
	t.Helper()
	other := NewCA(t, ECDSAP256)
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{})
	f := fromIssued(t, "untrusted-root", "chain ends at a root the client does not trust", is, defaultServerName)
	f.Chain = append(f.Chain, is.Root)
	f.Root = other.Cert
	f.Roots = other.Pool()
	return f
}

// MissingIntermediate returns a leaf presented without the intermediate that
// issued it; the client trusts the root. Issued.Intermediates holds the
// missing certificate.
func MissingIntermediate(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{})
	f := fromIssued(t, "missing-intermediate", "intermediate not presented", is, defaultServerName)
	f.Chain = f.Chain[:1]
	return f
}

// CNOnly returns a leaf naming localhost only in its subject common name,
// without a subject alternative name extension.
func CNOnly(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{CN: "localhost", NoSAN: true})
	return fromIssued(t, "cn-only", "host named only in CN, no SAN", is, defaultServerName)
}

// SHA1Signed returns an RSA-2048 chain whose leaf is signed with SHA-1.
func SHA1Signed(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, RSA2048).NewIntermediate(t).Issue(t, Leaf{KeyType: RSA2048, SHA1: true})
	return fromIssued(t, "sha1-signed", "leaf signature uses SHA-1", is, defaultServerName)
}

// WeakKey returns a chain whose leaf has a 1024-bit RSA key.
func WeakKey(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, RSA2048).NewIntermediate(t).Issue(t, Leaf{KeyType: RSA1024})
	return fromIssued(t, "rsa-1024", "leaf key is RSA 1024 bits", is, defaultServerName)
}

// WrongEKU returns a leaf allowed for client authentication only, presented
// by a server.
func WrongEKU(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return fromIssued(t, "wrong-eku", "leaf EKU is clientAuth only, served as a server", is, defaultServerName)
}

// Revoked returns a valid chain whose leaf its issuer has revoked: CRL and
// OCSP both say so.
func Revoked(t testing.TB) *Fixture {
	t.Helper()
	in := NewCA(t, ECDSAP256).NewIntermediate(t)
	is := in.Issue(t, Leaf{})
	f := fromIssued(t, "revoked", "leaf revoked by its issuer (CRL and OCSP)", is, defaultServerName)
	f.CRL = in.CRL(t, is.Cert)
	f.OCSP = in.OCSPResponse(t, is.Cert, ocsp.Revoked)
	return f
}

// Wildcard returns a good chain for *.example.test, to be dialled as
// api.example.test.
func Wildcard(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{DNS: []string{"*.example.test"}})
	return fromIssued(t, "wildcard", "", is, "api.example.test")
}

// IPSAN returns a good chain naming only 127.0.0.1 and ::1, to be dialled as
// 127.0.0.1.
func IPSAN(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{
		CN: "loopback", IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	return fromIssued(t, "ip-san", "", is, "127.0.0.1")
}

// Client identity names used by the Client fixture.
const (
	ClientURI   = "spiffe://corp.test/billing"
	ClientEmail = "billing@corp.test"
)

// Client returns a client certificate (EKU clientAuth) for the workload
// spiffe://corp.test/billing with email billing@corp.test. Roots is the pool
// a server puts in tls.Config.ClientCAs.
func Client(t testing.TB) *Fixture {
	t.Helper()
	is := NewCA(t, ECDSAP256).NewIntermediate(t).Issue(t, Leaf{
		CN: "billing", URIs: []string{ClientURI}, Emails: []string{ClientEmail},
		EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	f := fromIssued(t, "client", "", is, "")
	f.Usage = x509.ExtKeyUsageClientAuth
	return f
}

// GoodFixtures returns every fixture that a correct verifier accepts.
func GoodFixtures(t testing.TB) []*Fixture {
	t.Helper()
	var out []*Fixture
	for _, k := range GoodKeyTypes {
		out = append(out, Good(t, k))
	}
	return append(out, Wildcard(t), IPSAN(t), Client(t))
}

// BadFixtures returns every fixture with a defect, one per defect.
func BadFixtures(t testing.TB) []*Fixture {
	t.Helper()
	return []*Fixture{
		Expired(t), NotYetValid(t), WrongHost(t), SelfSigned(t), UntrustedRoot(t),
		MissingIntermediate(t), CNOnly(t), SHA1Signed(t), WeakKey(t), WrongEKU(t), Revoked(t),
	}
}

func (f *Fixture) String() string { return fmt.Sprintf("testpki fixture %s", f.Name) }
