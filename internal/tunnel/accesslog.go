package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// accessLog gathers what one connection did and writes one line for it at
// its end: who, where, TLS parameters, bytes each way, duration and result.
type accessLog struct {
	b      *base
	start  time.Time
	client string
	peer   string // verified identity of the TLS peer
	attrs  []slog.Attr
}

func (a *accessLog) tlsState(cs tls.ConnectionState) {
	a.attrs = append(a.attrs,
		slog.String("tls_version", tls.VersionName(cs.Version)),
		slog.String("cipher_suite", tls.CipherSuiteName(cs.CipherSuite)))
	if cs.NegotiatedProtocol != "" {
		a.attrs = append(a.attrs, slog.String("alpn", cs.NegotiatedProtocol))
	}
}

func (a *accessLog) base() []any {
	args := []any{
		"mode", a.b.mode,
		"client", a.client,
		"target", a.b.opts.Target,
		"peer", orDash(a.peer),
		"duration", time.Since(a.start).Round(time.Microsecond),
	}
	for _, at := range a.attrs {
		args = append(args, at)
	}
	return args
}

// refused logs a connection closed before any TLS took place.
func (a *accessLog) refused(result string, err error) {
	a.b.m.connections.WithLabelValues(result).Inc()
	a.b.log.Warn("connection refused", append(a.base(), "result", result, "error", err.Error())...)
}

// handshakeFailed logs a connection whose TLS handshake failed, in
// certcheck's words when a certificate was at fault.
func (a *accessLog) handshakeFailed(reason string, err error) {
	if r, ok := certcheck.FromTLSError(err); ok && r.Message != "" {
		err = fmt.Errorf("%s (%w)", r.Message, err)
	}
	a.b.m.connections.WithLabelValues("handshake_failed").Inc()
	a.b.log.Warn("connection refused: TLS handshake failed", append(a.base(), "result", "handshake_failed", "reason", reason, "error", err.Error())...)
}

// denied logs a verified client the access rules refused.
func (a *accessLog) denied(reason, rule, msg string) {
	a.b.m.connections.WithLabelValues("denied").Inc()
	a.b.m.denials.WithLabelValues(reason, rule).Inc()
	a.b.log.Warn("connection refused: client not allowed", append(a.base(), "result", "denied", "reason", reason, "rule", rule, "error", msg)...)
}

// relay moves bytes until both sides are done and writes the access line.
func (a *accessLog) relay(accepted, target end) {
	a.b.m.open.Inc()
	defer a.b.m.open.Dec()
	a.b.log.Debug("connection established", a.base()...)
	up := &byteCount{counter: a.b.m.up}
	down := &byteCount{counter: a.b.m.down}
	idled, err := relay(accepted, target, up, down, a.b.opts.IdleTimeout)
	d := time.Since(a.start)
	a.b.m.duration.Observe(d.Seconds())
	msg, result := "connection closed", "ok"
	level := slog.LevelInfo
	var reason string
	if a.b.mode == ModeClient && !idled {
		reason = refusedByTarget(up, down)
	}
	switch {
	case idled:
		// What the relay met after the tunnel closed both sockets is
		// the echo of that close, not a fault of either side.
		msg, result, err = "connection closed: idle timeout", "idle_timeout", nil
	case reason != "":
		msg, result, level = "connection refused by the target after the handshake", "refused_by_target", slog.LevelWarn
	case !quietClose(err):
		result, level = "error", slog.LevelWarn
	}
	a.b.m.connections.WithLabelValues(result).Inc()
	args := append(a.base(), "bytes_up", up.n.Load(), "bytes_down", down.n.Load(), "result", result)
	if idled {
		args = append(args, "idle_timeout", a.b.opts.IdleTimeout)
	}
	if reason != "" {
		args = append(args, "reason", reason)
	}
	if !quietClose(err) {
		args = append(args, "error", err.Error())
	}
	a.b.log.Log(context.Background(), level, msg, args...)
}

// refusedByTarget tells, in client mode, a target that ended the
// connection before sending a byte while the local client was still
// talking, and says how: with a TLS alert, a close_notify or a reset. A
// server that checks the client certificate when the client's side of the
// handshake is already over looks like this: with TLS 1.3, a tlsgate server
// tunnel whose access rules or revocation check refuse the certificate
// sends a bad_certificate alert then. A finished exchange does not, since
// the local client then ends first or the target has answered. A reset
// counts only when it came from the target: one read from the local client
// is that client aborting.
//
// A clean close counts too: a tlsgate server tunnel that cannot reach its
// own target, or finds the client deny-listed just after the handshake,
// ends the connection with a close_notify and nothing else, and that is
// the refusal a user most needs to see. A target whose protocol is to
// close without answering while the client still talks is rare, and the
// reason then says what was seen.
func refusedByTarget(up, down *byteCount) string {
	if down.n.Load() != 0 || (up.srcEnd == io.EOF && up.endedFirst) {
		return ""
	}
	var oe *net.OpError
	switch end := down.srcEnd; {
	case errors.As(end, &oe) && oe.Op == "remote error":
		return "alert: " + strings.TrimPrefix(oe.Err.Error(), "tls: ")
	case end == io.EOF:
		return "closed the connection before sending any data; a server that refuses clients after the handshake does this: see its log"
	case isReset(end), isReset(up.writeErr):
		// A reset met writing to the target is the target's; one read
		// from the local client is the local client's own abort.
		return "reset before sending any data"
	}
	return ""
}

func resultForDialError(err error) string {
	var down *errTargetDown
	if errors.As(err, &down) {
		return "target_down"
	}
	return "target_unreachable"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func slogRule(rule string) slog.Attr { return slog.String("allowed_by", rule) }
