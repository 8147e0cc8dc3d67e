package scan

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsgate/tlsgate/internal/certcheck"
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
//
// Trust is certcheck's verdict with the name check left out, so that a
// name mismatch grades M rather than T, and with the key-size floor lowered,
// because the rating weighs key size itself (a 1024-bit key caps at B, it
// does not make the certificate untrusted).
func checkCertificate(ctx context.Context, chain []*x509.Certificate, host string, roots *x509.CertPool, stapledOCSP []byte, stapledSCTs int, now time.Time) *CertificateResult {
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

	verdict := certcheck.Verify(ctx, certcheck.Input{Chain: chain, Roots: roots, At: now, Stapled: stapledOCSP, MinRSABits: 512})
	cr.Trusted = verdict.OK
	if !verdict.OK {
		cr.TrustProblem = verdict.Message
	}
	incomplete := verdict.Reason == certcheck.ReasonIncompleteChain
	for _, p := range verdict.Problems {
		incomplete = incomplete || p.Reason == certcheck.ReasonIncompleteChain
	}

	// Completeness does not depend on the date or on the leaf's signature:
	// the last certificate sent must be a root or be signed by one, checked
	// in the middle of its own validity. A chain that ends at an
	// intermediate whose root is not trusted is complete (roots are never
	// sent) but untrusted: the T grade says so, not a missing intermediate.
	last := chain[len(chain)-1]
	if !incomplete && !isSelfSigned(last) && !(last.IsCA && len(chain) > 1) {
		mid := last.NotBefore.Add(last.NotAfter.Sub(last.NotBefore) / 2)
		_, err := last.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: mid, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		var ua x509.UnknownAuthorityError
		incomplete = errors.As(err, &ua)
	}
	cr.ChainComplete = !incomplete
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
