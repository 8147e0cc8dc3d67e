package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"sync"
	"syscall"
	"time"
)

// h1Transport is the gateway's client for plain HTTP/1.1 upstreams on the
// hot path: bodyless idempotent requests (GET, HEAD, OPTIONS, DELETE...).
// It writes the request and reads the response on the caller's goroutine
// over a pooled keep-alive connection, where http.Transport hands every
// request to two goroutines of its own (a writer and a reader per
// connection) and back: two scheduler round trips per request that
// dominate a small proxied exchange.
//
// The bytes on the wire are still net/http's: requests are serialised by
// (*http.Request).Write and responses parsed by http.ReadResponse, so the
// framing rules (chunked, Content-Length, trailers, HEAD and 204/304
// without body) are the standard library's, not a second implementation.
// Everything else — request bodies, upgrades, https upstreams — goes to
// the fallback http.Transport.
type h1Transport struct {
	fallback      *http.Transport
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration // bound on the wait for response headers; 0: none
	idleTimeout   time.Duration // idle connections older than this are closed, not reused
	maxIdle       int           // idle connections kept per upstream address

	mu       sync.Mutex
	idle     map[string][]*h1Conn
	closed   bool
	sweeping bool // a sweep is scheduled
}

const (
	// maxResponseHeaderBytes bounds what an upstream may send before the
	// body starts.
	maxResponseHeaderBytes = 1 << 20
	// max1xxResponses bounds informational responses before the final one.
	max1xxResponses = 5
	// staleRetries bounds the attempts on pooled connections the upstream
	// had already closed before one is dialled fresh.
	staleRetries = 3
)

var errResponseHeadersTooLarge = errors.New("upstream response headers exceed 1 MiB")

func newH1Transport(fallback *http.Transport, dial func(ctx context.Context, network, addr string) (net.Conn, error), headerTimeout time.Duration) *h1Transport {
	return &h1Transport{
		fallback:      fallback,
		dial:          dial,
		headerTimeout: headerTimeout,
		idleTimeout:   fallback.IdleConnTimeout,
		maxIdle:       fallback.MaxIdleConnsPerHost,
		idle:          map[string][]*h1Conn{},
	}
}

// fastPath reports whether a request can take the synchronous path: plain
// HTTP, no body, no protocol upgrade, a method that may be sent again when
// a pooled connection turns out to have been closed by the upstream.
func fastPath(req *http.Request) bool {
	if req.URL.Scheme != "http" || (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 {
		return false
	}
	if _, up := req.Header["Upgrade"]; up {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !fastPath(req) {
		return t.fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		pc, reused := t.idleConn(addr, attempt < staleRetries)
		if pc == nil {
			c, err := t.dial(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			pc = newH1Conn(c, addr)
		}
		resp, err := t.exchange(ctx, pc, req)
		if err == nil {
			return resp, nil
		}
		pc.conn.Close()
		// A pooled connection the upstream closed just as it was taken
		// fails before any response byte arrives: send the request again
		// when http.Transport would (GET, HEAD, OPTIONS, TRACE or an
		// idempotency key), never after a timeout, which means the
		// upstream may still be working on it.
		if reused && pc.read == 0 && ctx.Err() == nil && attempt <= staleRetries &&
			!errors.Is(err, os.ErrDeadlineExceeded) && replayable(req) {
			continue
		}
		return nil, err
	}
}

// exchange writes req on pc and reads the response headers. The response
// body keeps pc until it is read to the end and closed.
func (t *h1Transport) exchange(ctx context.Context, pc *h1Conn, req *http.Request) (*http.Response, error) {
	if t.headerTimeout > 0 {
		pc.conn.SetDeadline(time.Now().Add(t.headerTimeout))
	}
	// A client that goes away aborts the exchange at once.
	stop := context.AfterFunc(ctx, pc.abort)
	pc.limit = maxResponseHeaderBytes
	err := req.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil {
		stop()
		return nil, err
	}
	var resp *http.Response
	for n1xx := 0; ; n1xx++ {
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			stop()
			if errors.Is(err, errResponseHeadersTooLarge) {
				return nil, errResponseHeadersTooLarge
			}
			return nil, err
		}
		code := resp.StatusCode
		if code >= 200 {
			break
		}
		if code == http.StatusSwitchingProtocols || n1xx >= max1xxResponses {
			stop()
			resp.Body.Close()
			return nil, fmt.Errorf("unexpected informational response %d from the upstream", code)
		}
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				stop()
				return nil, err
			}
		}
	}
	pc.limit = -1
	if t.headerTimeout > 0 {
		pc.conn.SetDeadline(time.Time{})
		if ctx.Err() != nil {
			pc.abort() // an abort that ran before the deadline was cleared
		}
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		t.release(pc, keep && stop())
		return resp, nil
	}
	resp.Body = &h1Body{rc: resp.Body, pc: pc, t: t, keep: keep, stop: stop}
	return resp, nil
}

// idleConn takes the most recently used idle connection for addr that is
// still quiet, closing those idle for too long. With pooled false it takes
// none.
func (t *h1Transport) idleConn(addr string, pooled bool) (*h1Conn, bool) {
	if !pooled {
		return nil, false
	}
	for {
		t.mu.Lock()
		stale := t.expireLocked(addr, time.Now())
		list := t.idle[addr]
		var pc *h1Conn
		if n := len(list); n > 0 {
			pc = list[n-1]
			list[n-1] = nil
			t.idle[addr] = list[:n-1]
		}
		t.mu.Unlock()
		closeAll(stale)
		if pc == nil {
			return nil, false
		}
		if quiet(pc.conn) {
			return pc, true
		}
		pc.conn.Close()
	}
}

// expireLocked takes out of addr's list the connections idle for longer
// than the idle timeout, for the caller to close. The oldest sit at the
// front: a LIFO pool never reaches them while traffic is steady.
func (t *h1Transport) expireLocked(addr string, now time.Time) []*h1Conn {
	list := t.idle[addr]
	n := 0
	for t.idleTimeout > 0 && n < len(list) && now.Sub(list[n].idleAt) > t.idleTimeout {
		n++
	}
	if n == 0 {
		return nil
	}
	stale := append([]*h1Conn(nil), list[:n]...)
	kept := copy(list, list[n:])
	clear(list[kept:])
	t.idle[addr] = list[:kept]
	return stale
}

// sweep closes connections idle for too long while no request comes to
// take them, and runs again while any connection is idle.
func (t *h1Transport) sweep() {
	now := time.Now()
	var stale []*h1Conn
	t.mu.Lock()
	idle := 0
	for addr := range t.idle {
		stale = append(stale, t.expireLocked(addr, now)...)
		idle += len(t.idle[addr])
	}
	t.sweeping = idle > 0 && !t.closed
	if t.sweeping {
		time.AfterFunc(t.idleTimeout/2, t.sweep)
	}
	t.mu.Unlock()
	closeAll(stale)
}

func closeAll(conns []*h1Conn) {
	for _, pc := range conns {
		pc.conn.Close()
	}
}

// release pools pc when the exchange left it clean, and closes it
// otherwise.
func (t *h1Transport) release(pc *h1Conn, reusable bool) {
	// Bytes after the end of a response mean the upstream and the gateway
	// disagree on framing: never send another request on that connection.
	if !reusable || pc.br.Buffered() != 0 {
		pc.conn.Close()
		return
	}
	pc.idleAt = time.Now()
	pc.read = 0
	t.mu.Lock()
	if t.closed || len(t.idle[pc.addr]) >= t.maxIdle {
		t.mu.Unlock()
		pc.conn.Close()
		return
	}
	t.idle[pc.addr] = append(t.idle[pc.addr], pc)
	if !t.sweeping && t.idleTimeout > 0 {
		t.sweeping = true
		time.AfterFunc(t.idleTimeout, t.sweep)
	}
	t.mu.Unlock()
}

// CloseIdleConnections closes every idle connection, the fallback's too.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.conn.Close()
		}
	}
	t.fallback.CloseIdleConnections()
}

// close closes idle connections and stops pooling: connections of
// requests still in flight are closed when they finish.
func (t *h1Transport) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.CloseIdleConnections()
}

// h1Conn is one upstream connection with its buffers.
type h1Conn struct {
	conn   net.Conn
	addr   string
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	// limit is how many more bytes may be read (response headers), or
	// negative for no limit (bodies).
	limit int64
	// read counts the bytes received in the current exchange.
	read int64
}

func newH1Conn(c net.Conn, addr string) *h1Conn {
	pc := &h1Conn{conn: c, addr: addr, limit: -1}
	pc.br = bufio.NewReaderSize(h1ConnReader{pc}, 4<<10)
	pc.bw = bufio.NewWriterSize(c, 4<<10)
	return pc
}

// abort makes the exchange in progress on pc fail at once.
func (pc *h1Conn) abort() { pc.conn.SetDeadline(time.Unix(1, 0)) }

type h1ConnReader struct{ pc *h1Conn }

func (r h1ConnReader) Read(p []byte) (int, error) {
	pc := r.pc
	if pc.limit == 0 {
		return 0, errResponseHeadersTooLarge
	}
	if pc.limit > 0 && int64(len(p)) > pc.limit {
		p = p[:pc.limit]
	}
	n, err := pc.conn.Read(p)
	pc.read += int64(n)
	if pc.limit > 0 {
		pc.limit -= int64(n)
	}
	return n, err
}

// h1Body is a response body that gives its connection back to the pool
// when it has been read to the end and closed.
type h1Body struct {
	rc     io.ReadCloser
	pc     *h1Conn
	t      *h1Transport
	stop   func() bool
	keep   bool
	eof    bool
	closed bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *h1Body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	// stop reports false when the client already went away and the
	// connection's deadline has been pushed into the past.
	stopped := b.stop()
	if !b.eof {
		b.pc.conn.Close()
		return nil
	}
	b.t.release(b.pc, b.keep && stopped)
	return nil
}

// quiet reports whether nothing arrived on an idle connection: no stray
// bytes (an unsolicited response, a 408) and no close from the upstream.
func quiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && ok
}

// replayable is http.Transport's rule for sending a request again after it
// was written: methods that change nothing, or an explicit idempotency key.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, k1 := req.Header["Idempotency-Key"]
	_, k2 := req.Header["X-Idempotency-Key"]
	return k1 || k2
}
