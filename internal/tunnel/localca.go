package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/pki"
)

// LocalServerCertificate returns a certificate source that issues the
// server-mode certificate from the local CA for names (DNS names and IP
// literals) and renews it two thirds into its lifetime. Run it (Run) for
// renewal.
func LocalServerCertificate(ctx context.Context, ca *pki.CA, names []string, log *slog.Logger) (*certsource.Local, error) {
	return certsource.NewLocal(ctx, ca.IssueServerCertificate, names, certsource.LocalOptions{Logger: log})
}

// LocalServerNames are the names LocalServerCertificate uses by default:
// those of the local CA's zero-configuration server certificate.
func LocalServerNames() []string {
	req := pki.LocalServerRequest()
	names := append([]string(nil), req.DNS...)
	for _, ip := range req.IPs {
		names = append(names, ip.String())
	}
	return names
}

// LocalClientIdentity returns a certificate source that issues a client
// certificate from the local CA for identity and renews it two thirds into
// its lifetime. The identity is a SPIFFE ID or other URI (a URI SAN), an
// email address (an email SAN), or a DNS name.
func LocalClientIdentity(ctx context.Context, ca *pki.CA, identity string, log *slog.Logger) (*certsource.Local, error) {
	req, err := clientRequest(identity)
	if err != nil {
		return nil, err
	}
	issue := func(ctx context.Context, _ []string) (*tls.Certificate, error) {
		is, err := ca.IssueLeaf(ctx, req)
		if err != nil {
			return nil, err
		}
		return is.TLSCertificate, nil
	}
	return certsource.NewLocal(ctx, issue, []string{identity}, certsource.LocalOptions{Logger: log})
}

func clientRequest(identity string) (pki.Request, error) {
	req := pki.Request{Profile: pki.ProfileClient}
	switch {
	case identity == "":
		return req, fmt.Errorf("--local-ca-identity: empty identity; give a SPIFFE ID (spiffe://corp.test/billing), an email address or a DNS name")
	case strings.HasPrefix(identity, "spiffe:"):
		if _, err := authz.NewRule(authz.KindURI, identity); err != nil || strings.Contains(identity, "*") {
			return req, fmt.Errorf("--local-ca-identity %q is not a SPIFFE ID (%v); write spiffe://TRUST-DOMAIN/PATH without wildcards", identity, err)
		}
		req.URIs = []string{identity}
	case strings.Contains(identity, "://") || strings.HasPrefix(identity, "urn:"):
		req.URIs = []string{identity}
	case strings.Contains(identity, "@"):
		req.Emails = []string{identity}
	default:
		req.DNS = []string{identity}
	}
	return req, nil
}

// LocalCARevocation answers from the local CA's store whether a certificate
// it issued is revoked, without waiting for a CRL: `tlsgate ca revoke`
// takes effect on the next handshake or request within one second, and a
// revocation made through ca itself at once. Verdicts are kept in memory
// (pki.RevocationCache), so a check costs no store query but once a second
// to read the audit log; when the store cannot be read the check fails.
func LocalCARevocation(ca *pki.CA) certcheck.RevocationChecker {
	cache := ca.RevocationCache(pki.DefaultRevocationRefresh)
	return certcheck.RevocationFunc(func(ctx context.Context, cert, _ *x509.Certificate, _ time.Time) (certcheck.RevocationStatus, error) {
		st := certcheck.RevocationStatus{Source: "local CA store"}
		revoked, reason, at, err := cache.IsRevoked(ctx, cert.SerialNumber)
		if err == nil && !revoked {
			// The check runs on every request: the serial, which only a
			// refusal names, is not spelled out for a good answer.
			st.State = certcheck.RevocationGood
			return st, nil
		}
		st.Serial = fmt.Sprintf("%X", cert.SerialNumber)
		if err != nil {
			st.State, st.Detail = certcheck.RevocationUnknown, err.Error()
			return st, err
		}
		st.State, st.RevokedAt, st.ReasonCode = certcheck.RevocationRevoked, at, int(reason)
		return st, nil
	})
}
