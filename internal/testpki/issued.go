package testpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

// Issued is a leaf certificate with its key and the CA certificates above it.
type Issued struct {
	Cert          *x509.Certificate
	Key           crypto.Signer
	Intermediates []*x509.Certificate // nearest first, root excluded
	Root          *x509.Certificate
	Issuer        *CA
}

// Chain returns the leaf followed by its intermediates: what a server should
// send.
func (is *Issued) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{is.Cert}, is.Intermediates...)
}

// Roots returns a pool holding only the root that issued the chain.
func (is *Issued) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(is.Root)
	return p
}

// TLSCertificate returns the leaf, its intermediates and key, ready for
// tls.Config.Certificates.
func (is *Issued) TLSCertificate() tls.Certificate {
	return tlsCertificate(is.Chain(), is.Key)
}

// TLSCertificateLeafOnly returns the leaf and key without intermediates, as
// a misconfigured server would send it.
func (is *Issued) TLSCertificateLeafOnly() tls.Certificate {
	return tlsCertificate([]*x509.Certificate{is.Cert}, is.Key)
}

func tlsCertificate(chain []*x509.Certificate, key crypto.Signer) tls.Certificate {
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// CertPEM returns the leaf certificate alone, PEM encoded.
func (is *Issued) CertPEM() []byte { return CertsPEM(is.Cert) }

// ChainPEM returns the leaf and its intermediates, PEM encoded (a "fullchain").
func (is *Issued) ChainPEM() []byte { return CertsPEM(is.Chain()...) }

// RootPEM returns the root certificate, PEM encoded.
func (is *Issued) RootPEM() []byte { return CertsPEM(is.Root) }

// KeyPEM returns the private key as a PKCS #8 "PRIVATE KEY" PEM block.
func (is *Issued) KeyPEM(t testing.TB) []byte { t.Helper(); return KeyPEM(t, is.Key) }

// CertsPEM encodes certificates as consecutive CERTIFICATE PEM blocks.
func CertsPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// KeyPEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal private key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Files are the paths WriteFiles wrote.
type Files struct {
	Cert  string // leaf only
	Key   string // PKCS #8 private key, mode 0600
	Chain string // leaf and intermediates
	Root  string // root CA certificate
}

// WriteFiles writes cert.pem, key.pem, chain.pem and root.pem into dir.
func (is *Issued) WriteFiles(t testing.TB, dir string) Files {
	t.Helper()
	return writeFiles(t, dir, is.Chain(), is.Key, is.Root)
}

func writeFiles(t testing.TB, dir string, chain []*x509.Certificate, key crypto.Signer, root *x509.Certificate) Files {
	t.Helper()
	f := Files{
		Cert:  filepath.Join(dir, "cert.pem"),
		Key:   filepath.Join(dir, "key.pem"),
		Chain: filepath.Join(dir, "chain.pem"),
		Root:  filepath.Join(dir, "root.pem"),
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.Cert, CertsPEM(chain[0]), 0o644},
		{f.Key, KeyPEM(t, key), 0o600},
		{f.Chain, CertsPEM(chain...), 0o644},
		{f.Root, CertsPEM(root), 0o644},
	} {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			t.Fatalf("testpki: %v", err)
		}
	}
	return f
}

func keyTypeOf(k crypto.Signer) KeyType {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P384() {
			return ECDSAP384
		}
		return ECDSAP256
	case *rsa.PrivateKey:
		switch k.N.BitLen() {
		case 1024:
			return RSA1024
		case 4096:
			return RSA4096
		}
		return RSA2048
	case ed25519.PrivateKey:
		return Ed25519
	}
	return ECDSAP256
}
