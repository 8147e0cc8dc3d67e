package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// trackingListener wraps accepted connections so the TLS callbacks can
// record per-connection facts (handshake timing, client identity) without
// a lookup table. It counts open connections from the moment they are
// accepted, handshakes included.
type trackingListener struct {
	net.Listener
	g *Gateway
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.g.metrics.openConns.Inc()
	return &trackedConn{Conn: c}, nil
}

// trackedConn is the raw TCP connection under a TLS server connection.
type trackedConn struct {
	net.Conn
	helloAt   time.Time
	handshake atomic.Int64 // duration in nanoseconds, set once the handshake completes
	// client is the outcome of verifying the client certificate, when one
	// was sent to a site that authenticates clients.
	client atomic.Pointer[clientCert]
	// denyListed is true when the connection is in Gateway.conns, for the
	// deny-list to close.
	denyListed bool
	// upgraded is set while a hijacked connection (an upgrade such as a
	// WebSocket) still carries its exchange; serveHTTPS accounts for its
	// end.
	upgraded atomic.Pointer[tls.Conn]
}

type connKey struct{}

// connContext remembers the tracked connection in every request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc := tlsConnOf(c); tc != nil {
		if raw, ok := tc.NetConn().(*trackedConn); ok {
			return context.WithValue(ctx, connKey{}, raw)
		}
	}
	return ctx
}

// tlsConnOf returns the TLS connection net/http serves: an HTTP/2 one as
// it is, an HTTP/1.1 one inside a servedConn.
func tlsConnOf(c net.Conn) *tls.Conn {
	switch c := c.(type) {
	case *servedConn:
		return c.Conn
	case *tls.Conn:
		return c
	}
	return nil
}

func connFrom(r *http.Request) *trackedConn {
	tc, _ := r.Context().Value(connKey{}).(*trackedConn)
	return tc
}

// configForClient picks the site by SNI and returns its TLS config. Only a
// site that verifies client certificates needs a copy per connection, for
// the verification to record the client's identity on it.
func (g *Gateway) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	st := g.state.Load()
	name := normalizeHost(hello.ServerName)
	s := st.hosts.lookup(name)
	if s == nil {
		s = st.hosts.fallback
	}
	if s == nil {
		return nil, errUnknownServerName
	}
	tc, _ := hello.Conn.(*trackedConn)
	if tc == nil {
		// Nowhere to keep a client identity: ask for no certificate.
		return s.plainTLS, nil
	}
	tc.helloAt = time.Now()
	if !s.mtls {
		return s.tls, nil
	}
	cfg := s.tls.Clone()
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		return s.verifyClient(tc, cs.PeerCertificates)
	}
	return cfg, nil
}

// handshakeDone records a completed handshake: its duration on the
// connection, the handshake metric, and a verified client's connection
// for the deny-list. It returns the negotiated application protocol.
func (g *Gateway) handshakeDone(c *tls.Conn) (alpn string) {
	cs := c.ConnectionState()
	g.metrics.countHandshake(&cs)
	raw, _ := c.NetConn().(*trackedConn)
	if raw == nil {
		return cs.NegotiatedProtocol
	}
	if !raw.helloAt.IsZero() {
		raw.handshake.Store(int64(time.Since(raw.helloAt)))
	}
	if cc := raw.client.Load(); cc != nil && cc.id != nil {
		raw.denyListed = true
		g.trackConn(c, true)
	}
	return cs.NegotiatedProtocol
}

// connClosed accounts for a closed connection whose handshake completed.
func (g *Gateway) connClosed(c *tls.Conn) {
	g.metrics.openConns.Dec()
	if raw, _ := c.NetConn().(*trackedConn); raw != nil && raw.denyListed {
		g.trackConn(c, false)
	}
}

// connState counts connections closed or taken over; they were counted
// open when accepted (trackingListener).
func (g *Gateway) connState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateHijacked:
		if tc := tlsConnOf(c); tc != nil {
			if raw, _ := tc.NetConn().(*trackedConn); raw != nil {
				// The upgraded exchange runs on: the connection stays
				// open, and within the deny-list's reach, until the
				// handler returns (upgradeEnded).
				raw.upgraded.Store(tc)
				return
			}
		}
		fallthrough
	case http.StateClosed:
		if tc := tlsConnOf(c); tc != nil {
			g.connClosed(tc)
		} else {
			g.metrics.openConns.Dec()
		}
	}
}

// upgradeEnded accounts for the end of an upgraded exchange on r's
// connection, which net/http no longer tracks once it is hijacked. It
// reports whether the connection was hijacked.
func (g *Gateway) upgradeEnded(r *http.Request) bool {
	if raw := connFrom(r); raw != nil {
		if tc := raw.upgraded.Swap(nil); tc != nil {
			g.connClosed(tc)
			return true
		}
	}
	return false
}

// parseHandshakeError recognises net/http's "TLS handshake error" log line
// and splits it into the client's address and the error.
func parseHandshakeError(msg string) (from, detail string, ok bool) {
	rest, found := strings.CutPrefix(msg, handshakeErrorPrefix)
	if !found {
		return "", "", false
	}
	from, detail, _ = strings.Cut(rest, ": ")
	return from, detail, true
}

const handshakeErrorPrefix = "http: TLS handshake error from "

func classifyHandshakeError(d string) string {
	if _, rest, ok := strings.Cut(d, clientCertRefused+" ("); ok {
		if reason, _, ok := strings.Cut(rest, ")"); ok {
			return "client_certificate_" + reason
		}
	}
	switch {
	case strings.Contains(d, "HTTP request to an HTTPS server"):
		return "plain_http"
	case strings.Contains(d, "does not look like a TLS handshake"),
		strings.Contains(d, "oversized record"),
		strings.Contains(d, "unexpected message"),
		strings.Contains(d, "handshake message"):
		return "not_tls"
	case strings.Contains(d, errUnknownServerName.Error()):
		return "unknown_server_name"
	case strings.Contains(d, "protocol version"), strings.Contains(d, "unsupported versions"):
		return "protocol_version"
	case strings.Contains(d, "no cipher suite"), strings.Contains(d, "no mutually supported"), strings.Contains(d, "no ECDHE curve"), strings.Contains(d, "group"):
		return "no_shared_parameters"
	case strings.Contains(d, "client didn't provide a certificate"), strings.Contains(d, "certificate required"):
		return "client_certificate_missing"
	case strings.Contains(d, "unknown authority"):
		return "client_certificate_unknown_authority"
	case strings.Contains(d, "expired or is not yet valid") && strings.Contains(d, "is before"):
		return "client_certificate_not_yet_valid"
	case strings.Contains(d, "expired or is not yet valid"):
		return "client_certificate_expired"
	case strings.Contains(d, "certificate"):
		return "client_certificate_invalid"
	case strings.Contains(d, "timeout"), strings.Contains(d, "deadline"):
		return "timeout"
	case strings.Contains(d, "EOF"), strings.Contains(d, "connection reset"), strings.Contains(d, "broken pipe"):
		return "client_closed"
	case strings.Contains(d, "alert"):
		return "client_alert"
	}
	return "other"
}
