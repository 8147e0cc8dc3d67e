package authz

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/netip"
)

// Identity is what a verified client certificate says about its holder.
// Fingerprints are lowercase hex without separators; Serial is lowercase hex
// without leading zeros.
type Identity struct {
	Subject         string // RFC 2253 distinguished name
	CommonName      string
	DNSNames        []string
	URIs            []string
	Emails          []string
	IPs             []netip.Addr
	Fingerprint     string // SHA-256 of the certificate (DER)
	SPKIFingerprint string // SHA-256 of the SubjectPublicKeyInfo (DER)
	Serial          string

	// Certificate is the leaf the identity was read from.
	Certificate *x509.Certificate
}

// ErrNoVerifiedCertificate means the peer sent no certificate, or sent one
// that was not verified against the configured client CAs. Such a peer has no
// identity: rules are never evaluated against unverified certificates.
var ErrNoVerifiedCertificate = errors.New("no verified client certificate")

// IdentityFromCertificate reads the identity of a certificate. The caller
// must have verified it; use IdentityFromState for a TLS connection.
func IdentityFromCertificate(cert *x509.Certificate) *Identity {
	fp := sha256.Sum256(cert.Raw)
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	id := &Identity{
		Subject:         cert.Subject.String(),
		CommonName:      cert.Subject.CommonName,
		DNSNames:        append([]string(nil), cert.DNSNames...),
		Emails:          append([]string(nil), cert.EmailAddresses...),
		Fingerprint:     hex.EncodeToString(fp[:]),
		SPKIFingerprint: hex.EncodeToString(spki[:]),
		Certificate:     cert,
	}
	if cert.SerialNumber != nil {
		id.Serial = cert.SerialNumber.Text(16)
	}
	for _, u := range cert.URIs {
		id.URIs = append(id.URIs, u.String())
	}
	for _, ip := range cert.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			id.IPs = append(id.IPs, a.Unmap())
		}
	}
	return id
}

// IdentityFromState returns the identity of the client of a TLS connection.
// Only a certificate that crypto/tls verified (a non-empty VerifiedChains)
// yields an identity; otherwise it returns ErrNoVerifiedCertificate.
func IdentityFromState(cs *tls.ConnectionState) (*Identity, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return nil, ErrNoVerifiedCertificate
	}
	return IdentityFromCertificate(cs.VerifiedChains[0][0]), nil
}

// SPKIPin returns the identity's public key pin in the form sha256/BASE64,
// the form used by --pin and HPKP.
func (id *Identity) SPKIPin() string {
	b, err := hex.DecodeString(id.SPKIFingerprint)
	if err != nil {
		return ""
	}
	return "sha256/" + base64.StdEncoding.EncodeToString(b)
}

// String names the identity in logs: the first SPIFFE/URI SAN, else the
// first DNS SAN, else the first email, else the subject.
func (id *Identity) String() string {
	if id == nil {
		return "-"
	}
	switch {
	case len(id.URIs) > 0:
		return id.URIs[0]
	case len(id.DNSNames) > 0:
		return id.DNSNames[0]
	case len(id.Emails) > 0:
		return id.Emails[0]
	case id.Subject != "":
		return id.Subject
	}
	return "sha256:" + id.Fingerprint
}
