package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// handshakeListener hands net/http connections whose TLS handshake is
// already complete. Handshakes run on goroutines of their own (handshaker)
// instead of on the goroutine that then serves the connection for its
// whole life: the handshake's cryptography needs a deep stack, and a
// goroutine keeps a grown stack while it holds more than a quarter of it,
// which an idle HTTP/1.1 reader parked in crypto/tls does. An HTTP/1.1
// connection then waits for its first request with a small goroutine of
// its own and reaches net/http only when the request arrives
// (awaitRequest).
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
	work   chan net.Conn   // to an idle handshaker
	ctx    context.Context // canceled by Close: ends handshakes in flight
	cancel context.CancelFunc
	once   sync.Once

	idleHandshakers atomic.Int32

	mu      sync.Mutex
	waiting map[*servedConn]struct{} // waiting for a first request; nil once closed
}

// servedConn is an HTTP/1.1 TLS connection as net/http gets it: with the
// first byte of the first request, read while the connection waited, put
// back in front. It keeps crypto/tls's ConnectionState, NetConn and
// CloseWrite, which net/http and the gateway use.
type servedConn struct {
	*tls.Conn
	first   [1]byte
	pending bool // first has not been read back yet
	// headerDeadline bounds the first request's headers: net/http's first
	// read deadline would start later, when it gets the connection.
	headerDeadline time.Time
}

func (c *servedConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		c.pending = false
		p[0] = c.first[0]
		return 1, nil
	}
	return c.Conn.Read(p)
}

func (c *servedConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *servedConn) SetDeadline(t time.Time) error {
	return c.Conn.SetDeadline(c.clamp(t))
}

// clamp keeps net/http's first read deadline, the one for the first
// request's headers, from extending the time the client had since its
// handshake.
func (c *servedConn) clamp(t time.Time) time.Time {
	d := c.headerDeadline
	if d.IsZero() {
		return t
	}
	c.headerDeadline = time.Time{}
	if t.IsZero() || t.After(d) {
		return d
	}
	return t
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newHandshakeListener(inner net.Listener, config *tls.Config, timeout time.Duration, g *Gateway) *handshakeListener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &handshakeListener{inner: inner, config: config, timeout: timeout, g: g,
		ready: make(chan acceptResult), work: make(chan net.Conn), ctx: ctx, cancel: cancel, waiting: map[*servedConn]struct{}{}}
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
		select {
		case l.work <- c: // an idle handshaker takes it
		default:
			go l.handshaker(c)
		}
	}
}

// maxIdleHandshakers bounds the handshake goroutines kept waiting for the
// next connection.
const maxIdleHandshakers = 32

// handshaker completes handshakes one after the other. A goroutine starts
// with a small stack and grows it, by copying, to the depth the
// handshake's cryptography needs: a fresh goroutine per handshake paid
// that copying every time (about 5% of a full handshake's CPU). One that
// stays keeps its grown stack, until the garbage collector shrinks it
// while it waits.
func (l *handshakeListener) handshaker(c net.Conn) {
	for {
		l.handshake(c)
		if l.idleHandshakers.Add(1) > maxIdleHandshakers {
			l.idleHandshakers.Add(-1)
			return
		}
		select {
		case c = <-l.work:
			l.idleHandshakers.Add(-1)
		case <-l.ctx.Done():
			l.idleHandshakers.Add(-1)
			return
		}
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
	if alpn := l.g.handshakeDone(tc); alpn != "" && alpn != "http/1.1" {
		// HTTP/2, and protocols net/http closes (acme-tls/1), go to
		// net/http as they are: its HTTP/2 server takes only a *tls.Conn.
		if l.timeout > 0 {
			raw.SetDeadline(time.Time{})
		}
		l.deliver(tc, tc)
		return
	}
	c := &servedConn{Conn: tc}
	if l.timeout > 0 {
		// The first request's headers are due within the timeout from
		// here, as net/http would have set it after the handshake.
		c.headerDeadline = time.Now().Add(l.timeout)
		raw.SetDeadline(c.headerDeadline)
	}
	if !l.addWaiting(c) {
		tc.Close()
		l.g.connClosed(tc)
		return
	}
	// A fresh goroutine waits: this one's stack grew for the handshake.
	go l.awaitRequest(c)
}

// awaitRequest holds an HTTP/1.1 connection until its first byte arrives
// and only then hands it to net/http, which gives every connection it
// serves a 4 KiB buffered reader and a 4 KiB buffered writer at once. An
// idle connection costs this goroutine and crypto/tls's state only.
func (l *handshakeListener) awaitRequest(c *servedConn) {
	// An error with no byte: the client closed or timed out without a
	// request, or the listener closed.
	n, _ := c.Conn.Read(c.first[:])
	l.removeWaiting(c)
	if n == 0 {
		c.Conn.Close()
		l.g.connClosed(c.Conn)
		return
	}
	c.pending = true
	if !c.headerDeadline.IsZero() {
		c.Conn.SetWriteDeadline(time.Time{})
	}
	l.deliver(c, c.Conn)
}

func (l *handshakeListener) deliver(c net.Conn, tc *tls.Conn) {
	select {
	case l.ready <- acceptResult{conn: c}:
	case <-l.ctx.Done():
		tc.Close()
		l.g.connClosed(tc)
	}
}

// addWaiting remembers a connection that waits for its first request, for
// Close to end; it reports false when the listener is closed already.
func (l *handshakeListener) addWaiting(c *servedConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting == nil {
		return false
	}
	l.waiting[c] = struct{}{}
	return true
}

func (l *handshakeListener) removeWaiting(c *servedConn) {
	l.mu.Lock()
	delete(l.waiting, c)
	l.mu.Unlock()
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.ready:
		return r.conn, r.err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting, aborts the handshakes in flight and closes the
// connections that have not sent a request.
func (l *handshakeListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.inner.Close()
		l.mu.Lock()
		waiting := l.waiting
		l.waiting = nil
		l.mu.Unlock()
		for c := range waiting {
			c.Conn.Close()
		}
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
