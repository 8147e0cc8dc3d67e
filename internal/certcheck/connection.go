package certcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"slices"
)

// VerifyConnection returns a tls.Config.VerifyConnection callback that runs
// Verify on the peer's chain, so a crypto/tls connection also gets the
// policy checks crypto/tls lacks (weak keys, revocation from the stapled
// OCSP response or base.Revocation) and fails with an *Error whose Reason
// ReasonOf reads. base supplies roots, usages and revocation sources; the
// chain and staple come from the connection, and, when base.Name is empty
// and the peer is a server, the name is the connection's ServerName.
//
// Keep InsecureSkipVerify false: crypto/tls then verifies first, and this
// callback adds to it.
func VerifyConnection(ctx context.Context, base Input) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		in := base
		in.Chain = cs.PeerCertificates
		if in.Stapled == nil {
			in.Stapled = cs.OCSPResponse
		}
		if in.Name == "" && (in.Usages == nil || slices.Contains(in.Usages, x509.ExtKeyUsageServerAuth)) {
			in.Name = cs.ServerName
		}
		return Verify(ctx, in).AsError()
	}
}
