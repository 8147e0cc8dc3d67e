package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// PinMismatchError means the target's chain verified but none of its public
// keys is among the configured pins.
type PinMismatchError struct {
	Got []string // sha256/BASE64 of each certificate in the verified chain
}

func (e *PinMismatchError) Error() string {
	return "no certificate in the verified chain matches a --pin (chain keys: " + strings.Join(e.Got, ", ") + "); if the key changed on purpose, update --pin"
}

// failureReason names why a handshake failed, as a short label for metrics
// and logs.
func failureReason(err error) string {
	var (
		pin *PinMismatchError
		rh  tls.RecordHeaderError
		ne  net.Error
	)
	if errors.As(err, &pin) {
		return "pin_mismatch"
	}
	// Certificate faults, ours or the peer's alert about ours, read the
	// same as everywhere else in tlsgate.
	if r := certcheck.ReasonOf(err); r != certcheck.ReasonOther && r != certcheck.ReasonOK {
		return string(r)
	}
	switch {
	case errors.As(err, &rh):
		return "not_tls"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), isReset(err):
		return "peer_closed"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"):
		return string(certcheck.ReasonNoCertificate)
	case strings.Contains(msg, "protocol version"):
		return "protocol_version"
	case strings.Contains(msg, "no cipher suite supported"), strings.Contains(msg, "no mutually supported"):
		return "no_shared_parameters"
	}
	return "other"
}
