package scan

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// oidSCTList is the X.509 extension that embeds Signed Certificate
// Timestamps (RFC 6962 section 3.3).
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

func keyInfo(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// countSCTs counts the timestamps in a TLS-encoded SignedCertificateTimestamp
// list (RFC 6962 section 3.3); malformed input counts what parsed.
func countSCTs(list []byte) int {
	s := cryptobyte.String(list)
	var inner cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&inner) {
		return 0
	}
	n := 0
	for !inner.Empty() {
		var sct cryptobyte.String
		if !inner.ReadUint16LengthPrefixed(&sct) || sct.Empty() {
			break
		}
		n++
	}
	return n
}

// embeddedSCTs counts the SCTs embedded in a certificate.
func embeddedSCTs(c *x509.Certificate) int {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSCTList) {
			var octets []byte
			if _, err := asn1.Unmarshal(e.Value, &octets); err != nil {
				return 0
			}
			return countSCTs(octets)
		}
	}
	return 0
}

// checkCertificate describes the chain a server sent and decides whether a
// client that knows roots (nil: the system roots) would trust it for host.
func checkCertificate(chain []*x509.Certificate, host string, roots *x509.CertPool, stapledSCTs int, now time.Time) *CertificateResult {
	if len(chain) == 0 {
		return nil
	}
	leaf := chain[0]
	cr := &CertificateResult{
		Subject:            leaf.Subject.String(),
		Issuer:             leaf.Issuer.String(),
		SANs:               append(append([]string(nil), leaf.DNSNames...), ipStrings(leaf)...),
		NotBefore:          leaf.NotBefore.UTC(),
		NotAfter:           leaf.NotAfter.UTC(),
		DaysLeft:           int(leaf.NotAfter.Sub(now).Hours() / 24),
		SignatureAlgorithm: leaf.SignatureAlgorithm.String(),
		SCTs:               stapledSCTs + embeddedSCTs(leaf),
		ChainLength:        len(chain),
		Expired:            now.After(leaf.NotAfter),
		SelfSigned:         isSelfSigned(leaf),
		ChainInOrder:       true,
	}
	cr.KeyType, cr.KeyBits = keyInfo(leaf)
	for i, c := range chain {
		kt, kb := keyInfo(c)
		sum := sha256.Sum256(c.Raw)
		cr.Chain = append(cr.Chain, ChainCert{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter.UTC(),
			KeyType: kt, KeyBits: kb, SignatureAlgorithm: c.SignatureAlgorithm.String(), SHA256: hex.EncodeToString(sum[:]),
		})
		if i > 0 && string(chain[i-1].RawIssuer) != string(c.RawSubject) {
			cr.ChainInOrder = false
		}
	}
	cr.NameMatches = leaf.VerifyHostname(host) == nil

	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now}
	_, err := leaf.Verify(opts)
	cr.Trusted = err == nil
	if err != nil {
		cr.TrustProblem = trustProblem(err, leaf, now)
	}
	// Completeness does not depend on the date: verify again in the middle
	// of the leaf's validity so that an expired chain can still be complete.
	mid := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	opts.CurrentTime = mid
	_, err = leaf.Verify(opts)
	var ua x509.UnknownAuthorityError
	cr.ChainComplete = !(errors.As(err, &ua) && !cr.SelfSigned && !isSelfSigned(chain[len(chain)-1]))
	return cr
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// trustProblem says in a sentence why verification failed.
func trustProblem(err error, leaf *x509.Certificate, now time.Time) string {
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		if now.After(leaf.NotAfter) {
			return fmt.Sprintf("expired on %s (%d days ago)", leaf.NotAfter.UTC().Format("2006-01-02"), int(now.Sub(leaf.NotAfter).Hours()/24))
		}
		if now.Before(leaf.NotBefore) {
			return fmt.Sprintf("not valid before %s", leaf.NotBefore.UTC().Format("2006-01-02"))
		}
		return "a certificate in the chain is expired or not yet valid"
	case errors.As(err, &ua) && isSelfSigned(leaf):
		return "self-signed certificate"
	case errors.As(err, &ua):
		return "issued by an unknown authority (" + leaf.Issuer.String() + "); pass its root with --ca or serve the missing intermediate"
	}
	return err.Error()
}
