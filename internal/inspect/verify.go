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
			v.VerifiedChain = append(v.VerifiedChain, c.Subject.String())
		}
	}
	return v
}
