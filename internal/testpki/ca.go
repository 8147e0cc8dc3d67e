package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority held in memory: a root when Parent is nil,
// otherwise an intermediate.
type CA struct {
	Cert   *x509.Certificate
	Key    crypto.Signer
	Parent *CA
}

// caCounter makes every CA's subject unique within a test binary, so that
// two unrelated CAs can never be mistaken for each other by name.
var caCounter atomic.Int64

// NewCA mints a self-signed root CA with a key of type k, valid from an hour
// ago for ten years.
func NewCA(t testing.TB, k KeyType) *CA {
	t.Helper()
	ca, err := newCA(k, nil, fmt.Sprintf("testpki Root CA %d (%v)", caCounter.Add(1), k))
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return ca
}

// NewIntermediate mints an intermediate CA under ca with a key of the same type.
func (ca *CA) NewIntermediate(t testing.TB) *CA {
	t.Helper()
	return ca.NewIntermediateKey(t, ca.KeyType())
}

// NewIntermediateKey mints an intermediate CA under ca with a key of type k.
func (ca *CA) NewIntermediateKey(t testing.TB, k KeyType) *CA {
	t.Helper()
	in, err := newCA(k, ca, fmt.Sprintf("testpki Intermediate CA %d (%v)", caCounter.Add(1), k))
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return in
}

func newCA(k KeyType, parent *CA, cn string) (*CA, error) {
	key, err := newKey(k)
	if err != nil {
		return nil, fmt.Errorf("generate %v key for %q: %w", k, cn, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"tlsgate tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	issuerCert, issuerKey := tmpl, key
	if parent != nil {
		issuerCert, issuerKey = parent.Cert, parent.Key
		tmpl.MaxPathLenZero = true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), issuerKey)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate %q: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, Parent: parent}, nil
}

// KeyType reports the type of the CA's key.
func (ca *CA) KeyType() KeyType { return keyTypeOf(ca.Key) }

// Root returns the root CA at the top of ca's hierarchy (ca itself for a root).
func (ca *CA) Root() *CA {
	for ca.Parent != nil {
		ca = ca.Parent
	}
	return ca
}

// Pool returns a certificate pool holding only the root of ca's hierarchy.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root().Cert)
	return p
}

// intermediates returns ca and its parents below the root, nearest first.
func (ca *CA) intermediates() []*x509.Certificate {
	var out []*x509.Certificate
	for c := ca; c.Parent != nil; c = c.Parent {
		out = append(out, c.Cert)
	}
	return out
}

// Leaf describes an end-entity certificate to issue. Zero fields get
// defaults: DNS ["localhost"] and IP 127.0.0.1 when no name at all is given,
// validity from an hour ago for 90 days, key ECDSA P-256, EKU serverAuth.
type Leaf struct {
	CN        string
	DNS       []string
	IPs       []net.IP
	URIs      []string // e.g. "spiffe://corp.test/billing"
	Emails    []string
	NotBefore time.Time
	NotAfter  time.Time
	KeyType   KeyType
	EKU       []x509.ExtKeyUsage
	KeyUsage  x509.KeyUsage

	// NoSAN leaves the subject alternative name extension out entirely, so
	// the certificate names its host only in CN (the legacy form).
	NoSAN bool
	// SHA1 signs the certificate with SHA-1 instead of SHA-256 (the issuer
	// must have an RSA or ECDSA key).
	SHA1 bool

	OCSPServer            []string
	CRLDistributionPoints []string
}

// Issue signs a leaf certificate with ca.
func (ca *CA) Issue(t testing.TB, l Leaf) *Issued {
	t.Helper()
	is, err := ca.issue(l)
	if err != nil {
		t.Fatalf("testpki: issue leaf %q: %v", l.CN, err)
	}
	return is
}

func (ca *CA) issue(l Leaf) (*Issued, error) {
	key, err := newKey(l.KeyType)
	if err != nil {
		return nil, fmt.Errorf("generate %v key: %w", l.KeyType, err)
	}
	now := time.Now()
	if !l.NoSAN && len(l.DNS)+len(l.IPs)+len(l.URIs)+len(l.Emails) == 0 {
		l.DNS = []string{"localhost"}
		l.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if l.CN == "" && len(l.DNS) > 0 {
		l.CN = l.DNS[0]
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = now.Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = l.NotBefore.Add(90 * 24 * time.Hour)
	}
	if l.EKU == nil {
		l.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if l.KeyUsage == 0 {
		l.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := key.(*rsa.PrivateKey); ok {
			l.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: l.CN},
		NotBefore:             l.NotBefore,
		NotAfter:              l.NotAfter,
		KeyUsage:              l.KeyUsage,
		ExtKeyUsage:           l.EKU,
		BasicConstraintsValid: true,
		OCSPServer:            l.OCSPServer,
		CRLDistributionPoints: l.CRLDistributionPoints,
	}
	if !l.NoSAN {
		tmpl.DNSNames = l.DNS
		tmpl.IPAddresses = l.IPs
		tmpl.EmailAddresses = l.Emails
		for _, s := range l.URIs {
			u, err := url.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("URI SAN %q: %w", s, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	if l.SHA1 {
		if der, err = resignSHA1(der, ca.Key); err != nil {
			return nil, fmt.Errorf("re-sign with SHA-1: %w", err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issued{
		Cert:          cert,
		Key:           key,
		Intermediates: ca.intermediates(),
		Root:          ca.Root().Cert,
		Issuer:        ca,
	}, nil
}

func newSerial() *big.Int {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.Add(s, big.NewInt(1))
}
