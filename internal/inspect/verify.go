package inspect

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// verifyChain asks certcheck whether the presented chain is trusted by
// roots for name at time at, a stapled OCSP response included; the verdict
// and its wording are certcheck's.
func verifyChain(ctx context.Context, chain []*x509.Certificate, roots *x509.CertPool, rootsDesc, name string, at time.Time, stapled []byte) *VerificationInfo {
	res := certcheck.Verify(ctx, certcheck.Input{Chain: chain, Roots: roots, Name: name, At: at, Stapled: stapled})
	v := &VerificationInfo{Verified: res.OK, Roots: rootsDesc, Name: name, At: at.UTC(), Warnings: res.Warnings}
	if !res.OK {
		v.Code, v.Reason = string(res.Reason), res.Message
		return v
	}
	if len(res.Chains) > 0 {
		for _, c := range res.Chains[0] {
			v.VerifiedChain = append(v.VerifiedChain, chainName(c))
		}
	}
	return v
}

// chainName names a certificate in a verified path: its subject, or for a
// leaf with an empty subject (as RFC 5280 allows when the names are in the
// SAN), its first SAN.
func chainName(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	switch {
	case len(c.DNSNames) > 0:
		return "DNS:" + c.DNSNames[0]
	case len(c.IPAddresses) > 0:
		return "IP:" + c.IPAddresses[0].String()
	case len(c.URIs) > 0:
		return "URI:" + c.URIs[0].String()
	case len(c.EmailAddresses) > 0:
		return "email:" + c.EmailAddresses[0]
	}
	return "(empty subject)"
}
