package tunnel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"time"
)

// PinMismatchError means the target's chain verified but none of its public
// keys is among the configured pins.
type PinMismatchError struct {
	Got []string // sha256/BASE64 of each certificate in the verified chain
}

func (e *PinMismatchError) Error() string {
	return "no certificate in the verified chain matches a --pin (chain keys: " + strings.Join(e.Got, ", ") + "); if the key changed on purpose, update --pin"
}

// OCSPError means the target stapled an OCSP response that revokes its
// certificate or that cannot be trusted.
type OCSPError struct {
	Revoked bool
	Detail  string
}

func (e *OCSPError) Error() string { return e.Detail }

// failureReason names why a handshake failed, as a short label for metrics
// and logs.
func failureReason(err error) string {
	var (
		inv  x509.CertificateInvalidError
		host x509.HostnameError
		ua   x509.UnknownAuthorityError
		pin  *PinMismatchError
		oe   *OCSPError
		rh   tls.RecordHeaderError
		al   tls.AlertError
		ne   net.Error
		weak x509.InsecureAlgorithmError
	)
	switch {
	case errors.As(err, &pin):
		return "pin_mismatch"
	case errors.As(err, &oe):
		if oe.Revoked {
			return "revoked"
		}
		return "ocsp_invalid"
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			if inv.Cert != nil && time.Now().Before(inv.Cert.NotBefore) {
				return "not_yet_valid"
			}
			return "expired"
		case x509.IncompatibleUsage:
			return "wrong_usage"
		}
		return "invalid_certificate"
	case errors.As(err, &weak):
		return "insecure_signature"
	case errors.As(err, &host):
		return "wrong_host"
	case errors.As(err, &ua):
		if strings.Contains(ua.Error(), "insecure algorithm") {
			return "insecure_signature"
		}
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) && len(cv.UnverifiedCertificates) > 0 && selfSigned(cv.UnverifiedCertificates[0]) {
			return "self_signed"
		}
		return "unknown_authority"
	case errors.As(err, &rh):
		return "not_tls"
	case errors.As(err, &al):
		return "peer_alert"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), isReset(err):
		return "peer_closed"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"):
		return "no_certificate"
	case strings.Contains(msg, "protocol version"):
		return "protocol_version"
	case strings.Contains(msg, "no cipher suite supported"), strings.Contains(msg, "no mutually supported"):
		return "no_shared_parameters"
	}
	return "other"
}

// selfSigned reports whether c names itself as issuer and carries a valid
// signature by its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
