package testpki

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// CRL returns a DER certificate revocation list signed by ca that lists
// revoked (possibly none), valid from an hour ago for a week.
func (ca *CA) CRL(t testing.TB, revoked ...*x509.Certificate) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(now.UnixNano()),
		ThisUpdate: now.Add(-time.Hour),
		NextUpdate: now.AddDate(0, 0, 7),
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: c.SerialNumber, RevocationTime: now.Add(-30 * time.Minute),
			ReasonCode: ocsp.KeyCompromise,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatalf("testpki: CRL from %s: %v", ca.Cert.Subject.CommonName, err)
	}
	return der
}

// OCSPResponse returns a DER OCSP response signed by ca itself about leaf,
// with status ocsp.Good, ocsp.Revoked or ocsp.Unknown, valid from an hour ago
// for a week.
func (ca *CA) OCSPResponse(t testing.TB, leaf *x509.Certificate, status int) []byte {
	t.Helper()
	now := time.Now()
	tmpl := ocsp.Response{
		Status:       status,
		SerialNumber: leaf.SerialNumber,
		ThisUpdate:   now.Add(-time.Hour),
		NextUpdate:   now.AddDate(0, 0, 7),
	}
	if status == ocsp.Revoked {
		tmpl.RevokedAt = now.Add(-30 * time.Minute)
		tmpl.RevocationReason = ocsp.KeyCompromise
	}
	der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, tmpl, ca.Key)
	if err != nil {
		t.Fatalf("testpki: OCSP response from %s: %v", ca.Cert.Subject.CommonName, err)
	}
	return der
}
