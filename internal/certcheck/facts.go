package certcheck

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// Facts describe one certificate of a chain.
type Facts struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"` // hex
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DaysLeft           int       `json:"days_left"` // whole days until NotAfter; negative once expired
	Key                string    `json:"key"`       // "ECDSA P-256", "RSA 2048", "Ed25519"
	SignatureAlgorithm string    `json:"signature_algorithm"`
	IsCA               bool      `json:"is_ca"`
	SelfSigned         bool      `json:"self_signed"`
	DNSNames           []string  `json:"dns_names,omitempty"`
	IPAddresses        []string  `json:"ip_addresses,omitempty"`
	URIs               []string  `json:"uris,omitempty"`
	Emails             []string  `json:"emails,omitempty"`
}

// Describe returns the facts of one certificate at time at.
func Describe(c *x509.Certificate, at time.Time) Facts {
	f := Facts{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		Serial:             fmt.Sprintf("%X", c.SerialNumber),
		NotBefore:          c.NotBefore,
		NotAfter:           c.NotAfter,
		DaysLeft:           int(math.Floor(c.NotAfter.Sub(at).Hours() / 24)),
		Key:                KeyDescription(c),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		IsCA:               c.IsCA,
		SelfSigned:         selfSigned(c),
		DNSNames:           c.DNSNames,
		Emails:             c.EmailAddresses,
	}
	for _, ip := range c.IPAddresses {
		f.IPAddresses = append(f.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		f.URIs = append(f.URIs, u.String())
	}
	return f
}

func describeChain(chain []*x509.Certificate, at time.Time) []Facts {
	var out []Facts
	for _, c := range chain {
		if c != nil {
			out = append(out, Describe(c, at))
		}
	}
	return out
}

// KeyDescription names a certificate's public key: "RSA 2048",
// "ECDSA P-256", "Ed25519".
func KeyDescription(c *x509.Certificate) string {
	_, desc := tlspolicy.PublicKeyStrength(c.PublicKey)
	return desc
}

// weakKey reports whether c's key is below policy (tlspolicy's strength
// classes; RSA against minRSA) and describes it.
func weakKey(c *x509.Certificate, minRSA int) (bool, string) {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
		return k.N.BitLen() < minRSA, fmt.Sprintf("%d-bit RSA key", k.N.BitLen())
	}
	s, desc := tlspolicy.PublicKeyStrength(c.PublicKey)
	return s != tlspolicy.StrengthUnknown && s < tlspolicy.Acceptable, desc + " key"
}

// selfSigned reports whether c names itself as issuer and its own key
// verifies its signature (CheckSignatureFrom would refuse non-CA leaves).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// displayName is how messages refer to a certificate: its first DNS name,
// else CN, else subject.
func displayName(c *x509.Certificate) string {
	switch {
	case c.IsCA && c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.IPAddresses) > 0:
		return c.IPAddresses[0].String()
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	}
	return c.Subject.String()
}

// issuerName names c's issuer for messages.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

// role names a certificate's place in a chain for messages.
func role(c *x509.Certificate, isLeaf bool) string {
	switch {
	case isLeaf:
		return fmt.Sprintf("certificate %q", displayName(c))
	case selfSigned(c):
		return fmt.Sprintf("root CA %q", displayName(c))
	}
	return fmt.Sprintf("intermediate CA %q", displayName(c))
}

// date formats t as an RFC 3339 date.
func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// daysUntil counts whole days from at to t, rounded to the nearest day;
// negative when t is in the past.
func daysUntil(t, at time.Time) int { return int(math.Round(t.Sub(at).Hours() / 24)) }

// relDays renders a day count relative to now: "in 3 days", "12 days ago",
// "today".
func relDays(days int) string {
	switch {
	case days == 0:
		return "today"
	case days == 1:
		return "in 1 day"
	case days == -1:
		return "1 day ago"
	case days > 0:
		return fmt.Sprintf("in %d days", days)
	}
	return fmt.Sprintf("%d days ago", -days)
}

// sans lists every name a certificate is valid for.
func sans(c *x509.Certificate) string {
	var n []string
	n = append(n, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		n = append(n, ip.String())
	}
	if len(n) == 0 {
		return "no names"
	}
	return strings.Join(n, ", ")
}
