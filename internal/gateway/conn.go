package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// handshakeListener hands net/http connections whose TLS handshake is
// already complete. Each handshake runs on a short-lived goroutine of its
// own instead of on the goroutine that then serves the connection for its
// whole life: the handshake's cryptography needs a deep stack, and a
// goroutine keeps a grown stack while it holds more than a quarter of it,
// which an idle HTTP/1.1 reader parked in crypto/tls does. Handshaking
// elsewhere leaves each idle connection with the smallest stack (8 KiB
// less per connection).
//
// It does what net/http would have done around the handshake: the same
// deadline (the server's read-header timeout), the same 400 answer to a
// plain HTTP request, and the failure reported to the gateway.
type handshakeListener struct {
	inner   net.Listener // yields *trackedConn
	config  *tls.Config
	timeout time.Duration
	g       *Gateway

	ready  chan acceptResult
	ctx    context.Context // canceled by Close: ends handshakes in flight
	cancel context.CancelFunc
	once   sync.Once
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newHandshakeListener(inner net.Listener, config *tls.Config, timeout time.Duration, g *Gateway) *handshakeListener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &handshakeListener{inner: inner, config: config, timeout: timeout, g: g,
		ready: make(chan acceptResult), ctx: ctx, cancel: cancel}
	go l.acceptLoop()
	return l
}

// acceptLoop accepts raw connections and starts their handshakes. Accept
// errors go to net/http's Serve, which backs off on temporary ones and
// calls Accept again; the loop waits for that before accepting more.
func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case l.ready <- acceptResult{err: err}:
			case <-l.ctx.Done():
				return
			}
			// net/http retries after temporary errors (out of file
			// descriptors) and returns on any other.
			var ne interface{ Temporary() bool }
			if errors.As(err, &ne) && ne.Temporary() {
				continue
			}
			l.cancel()
			return
		}
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.config)
	if l.timeout > 0 {
		raw.SetDeadline(time.Now().Add(l.timeout))
	}
	if err := tc.HandshakeContext(l.ctx); err != nil {
		l.g.handshakeFailed(raw, err, l.ctx.Err() != nil)
		raw.Close()
		return
	}
	if l.timeout > 0 {
		raw.SetDeadline(time.Time{})
	}
	l.g.handshakeDone(tc)
	select {
	case l.ready <- acceptResult{conn: tc}:
	case <-l.ctx.Done():
		tc.Close()
		l.g.connClosed(tc)
	}
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.ready:
		return r.conn, r.err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting and aborts the handshakes in flight.
func (l *handshakeListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.inner.Close()
	})
	return err
}

func (l *handshakeListener) Addr() net.Addr { return l.inner.Addr() }

// handshakeFailed answers a plain HTTP request the way net/http does and
// counts and logs the failure.
func (g *Gateway) handshakeFailed(raw net.Conn, err error, closing bool) {
	g.metrics.openConns.Dec()
	if closing {
		return // aborted by the listener's Close, not the client's doing
	}
	reason := err.Error()
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && recordHeaderLooksLikeHTTP(re.RecordHeader) {
		io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		reason = "client sent an HTTP request to an HTTPS server"
	}
	g.logHandshakeFailure(raw.RemoteAddr().String(), reason)
}

func recordHeaderLooksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}
