package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"

	"software.sslmate.com/src/go-pkcs12"
)

// PKCS12 bundles the key, leaf and intermediate into a password-protected
// PKCS#12 file (AES-256-CBC with PBKDF2, SHA-256 MAC) that browsers, Java
// and openssl import.
func (ca *CA) PKCS12(is *Issued, password string) ([]byte, error) {
	if is.Key == nil {
		return nil, errors.New("no private key to bundle: PKCS#12 needs a generated key, not a signed CSR")
	}
	return pkcs12.Modern.Encode(is.Key, is.Leaf, []*x509.Certificate{ca.inter}, password)
}

// RandomPassword returns a fresh password for a PKCS#12 bundle.
func RandomPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
