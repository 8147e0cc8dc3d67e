package certcheck

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// FromTLSError explains a certificate failure reported by a crypto/tls
// handshake or crypto/x509, in the same reasons and words as Verify. It
// reports false when err is not about certificates. Alerts the peer sent
// (it rejected our certificate) map to the reason the alert names.
func FromTLSError(err error) (Result, bool) {
	if err == nil {
		return Result{}, false
	}
	at := time.Now()
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) && len(ve.UnverifiedCertificates) > 0 {
		chain := ve.UnverifiedCertificates
		name := ""
		var he x509.HostnameError
		if errors.As(ve.Err, &he) {
			name = he.Host
		}
		r := Result{Err: ve.Err, Certificates: describeChain(chain, at)}
		r.Reason, r.Message = explain(ve.Err, chain, name, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, at)
		return r, true
	}
	var (
		invalid x509.CertificateInvalidError
		hostErr x509.HostnameError
		unknown x509.UnknownAuthorityError
	)
	switch {
	case errors.As(err, &invalid) && invalid.Cert != nil:
		return fromSingle(err, invalid.Cert, "", at), true
	case errors.As(err, &hostErr) && hostErr.Certificate != nil:
		return fromSingle(err, hostErr.Certificate, hostErr.Host, at), true
	case errors.As(err, &unknown) && unknown.Cert != nil:
		return fromSingle(err, unknown.Cert, "", at), true
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return fromAlert(err, alert)
	}
	return Result{}, false
}

func fromSingle(err error, c *x509.Certificate, name string, at time.Time) Result {
	r := Result{Err: err, Certificates: describeChain([]*x509.Certificate{c}, at)}
	r.Reason, r.Message = explain(err, []*x509.Certificate{c}, name, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, at)
	return r
}

// TLS alert descriptions (RFC 8446 section 6) that concern certificates.
const (
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertAccessDenied           = 49
	alertCertificateRequired    = 116
)

func fromAlert(err error, a tls.AlertError) (Result, bool) {
	r := Result{Err: err, Reason: ReasonRejectedByPeer}
	what := "rejected our certificate"
	switch a {
	case alertCertificateExpired:
		r.Reason, what = ReasonExpired, "says our certificate has expired"
	case alertCertificateRevoked:
		r.Reason, what = ReasonRevoked, "says our certificate is revoked"
	case alertUnknownCA:
		r.Reason, what = ReasonUnknownAuthority, "does not trust the CA that issued our certificate"
	case alertUnsupportedCertificate:
		r.Reason, what = ReasonWrongUsage, "cannot use our certificate (unsupported type or key usage)"
	case alertCertificateRequired:
		r.Reason, what = ReasonNoCertificate, "requires a client certificate and we sent none"
	case alertBadCertificate, alertCertificateUnknown, alertAccessDenied:
	default:
		return Result{}, false
	}
	r.Message = fmt.Sprintf("the peer %s (TLS alert %v): check the client certificate and key you present and the CA the peer trusts", what, a)
	return r, true
}
