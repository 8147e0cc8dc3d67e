// Package tunnel carries plain TCP over TLS for clients and services that
// cannot speak TLS themselves. In client mode it accepts plaintext on a
// loopback listener and originates a fully verified TLS connection to the
// target; in server mode it terminates TLS, authorizes the client with
// internal/authz, and forwards plaintext to a local service.
//
// Neither mode ever sends a byte from the accepting side before the TLS
// handshake has succeeded and the peer has been verified and authorized.
package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// Mode is the direction a tunnel works in.
type Mode string

// The two modes.
const (
	ModeClient Mode = "client" // plaintext in, TLS out
	ModeServer Mode = "server" // TLS in, plaintext out
)

// Defaults for the timeouts of Options.
const (
	DefaultDrainTimeout     = 30 * time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultIdleTimeout is long enough for database and Redis
	// connections that rest between queries for minutes, and still frees
	// what a peer that went silent holds within the hour.
	DefaultIdleTimeout = time.Hour
)

// DefaultMaxConns bounds the connections a tunnel holds at once unless told
// otherwise. It is far above what one service behind a tunnel normally
// needs, and still keeps a flood of connections from taking every file
// descriptor and goroutine of the process: each connection holds two
// sockets and, while data moves, relay buffers. The same bound as the
// gateway's default.
const DefaultMaxConns = 10000

// NoMaxConns, as Options.MaxConns, lets a tunnel hold any number of
// connections at once.
const NoMaxConns = -1

// NoIdleTimeout, as Options.IdleTimeout, keeps a connection open however
// long nothing moves on it.
const NoIdleTimeout time.Duration = -1

// Options are what both modes share.
type Options struct {
	// Target is the host:port connections are forwarded to.
	Target string
	// DrainTimeout bounds how long Serve waits for open connections to
	// finish after its context is cancelled; then they are closed.
	DrainTimeout time.Duration
	// DialTimeout bounds connecting to the target.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a relayed connection on which no byte has moved
	// in either direction for this long; zero means DefaultIdleTimeout
	// and a negative value (NoIdleTimeout) never closes it.
	IdleTimeout time.Duration
	// MaxConns bounds the connections held at once, from accept to close;
	// one accepted beyond it is closed at once, before any TLS or dial.
	// Zero means DefaultMaxConns and a negative value (NoMaxConns) sets no
	// bound.
	MaxConns int
	// Logger receives the access log and errors; nil discards them.
	Logger *slog.Logger
	// Metrics counts connections, bytes and failures; nil counts nothing.
	Metrics *Metrics
}

func (o *Options) setDefaults() {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
}

// handler works one accepted connection from start to end.
type handler func(ctx context.Context, c net.Conn, s *openConn)

// base runs the accept loop, tracks open connections and drains them.
type base struct {
	mode Mode
	opts Options
	log  *slog.Logger
	m    *Metrics

	// slots holds a token for every connection held, from accept until
	// its handler has ended; nil when there is no bound.
	slots chan struct{}

	mu   sync.Mutex
	open map[*openConn]struct{}
	wg   sync.WaitGroup
}

func newBase(mode Mode, opts Options) *base {
	opts.setDefaults()
	b := &base{mode: mode, opts: opts, log: opts.Logger, m: opts.Metrics, open: map[*openConn]struct{}{}}
	if opts.MaxConns > 0 {
		b.slots = make(chan struct{}, opts.MaxConns)
	}
	return b
}

// acquire takes a slot for a connection if one is free.
func (b *base) acquire() bool {
	if b.slots == nil {
		return true
	}
	select {
	case b.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// release gives back the slot acquire took.
func (b *base) release() {
	if b.slots != nil {
		<-b.slots
	}
}

// refuseOverLimit closes a connection accepted while the tunnel holds
// MaxConns, before reading a byte of it: no TLS handshake in server mode,
// no dial of the target in client mode, so connections beyond the limit
// cost the tunnel no more than an accept and a close.
func (b *base) refuseOverLimit(c net.Conn) {
	al := accessLog{b: b, start: time.Now(), client: c.RemoteAddr().String()}
	c.Close()
	al.refused(resultTooManyConnections, fmt.Errorf("the tunnel already holds as many connections as --max-conns allows (%d); closed this one at once: raise --max-conns if this load is expected", b.opts.MaxConns))
}

// resultTooManyConnections is the access-log result and metric label of a
// connection refused by the MaxConns limit.
const resultTooManyConnections = "too_many_connections"

// openConn is one accepted connection, the connections opened for it,
// and what is known about its peer.
type openConn struct {
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	peer   *authz.Identity // the verified client, in server mode
}

func (oc *openConn) add(c net.Conn) bool {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.closed {
		c.Close()
		return false
	}
	oc.conns = append(oc.conns, c)
	return true
}

func (oc *openConn) close() {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.closed = true
	for _, c := range oc.conns {
		c.Close()
	}
}

// serve accepts on ln until ctx is done, then stops accepting and gives open
// connections DrainTimeout to finish before closing them.
func (b *base) serve(ctx context.Context, ln net.Listener, h handler) error {
	connCtx, cancelConns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConns()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if b.opts.IdleTimeout < 0 {
		b.log.Warn("idle timeout disabled: a connection on which nothing moves stays open, with its sockets, until a side closes it",
			"mode", b.mode, "listen", ln.Addr().String())
	}
	if b.slots == nil {
		b.log.Warn("connection limit disabled: a flood of connections can take every file descriptor of the process",
			"mode", b.mode, "listen", ln.Addr().String())
	}

	var acceptErr error
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				b.log.Warn("accept failed; retrying", "error", err, "retry_in", delay)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
				}
				continue
			}
			acceptErr = err
			break
		}
		delay = 0
		if !b.acquire() {
			b.refuseOverLimit(c)
			continue
		}
		s := &openConn{}
		s.add(c)
		b.mu.Lock()
		b.open[s] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			// Last, once the connection and all it opened are closed.
			defer b.release()
			defer func() {
				s.close()
				b.mu.Lock()
				delete(b.open, s)
				b.mu.Unlock()
			}()
			h(connCtx, c, s)
		}()
	}
	ln.Close()
	b.drain(cancelConns)
	return acceptErr
}

// isTemporary singles out accept errors worth retrying (too many open
// files and the like) from a closed listener.
func isTemporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	type temporary interface{ Temporary() bool }
	var t temporary
	return errors.As(err, &t) && t.Temporary()
}

func (b *base) drain(cancelConns context.CancelFunc) {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	b.mu.Lock()
	open := len(b.open)
	b.mu.Unlock()
	if open > 0 {
		b.log.Info("draining open connections", "open", open, "timeout", b.opts.DrainTimeout)
	}
	select {
	case <-done:
		return
	case <-time.After(b.opts.DrainTimeout):
	}
	cancelConns()
	b.mu.Lock()
	n := len(b.open)
	for s := range b.open {
		s.close()
	}
	b.mu.Unlock()
	b.log.Warn("drain timeout reached; closed the remaining connections", "closed", n, "timeout", b.opts.DrainTimeout)
	<-done
}

// forEachOpen calls fn for every open connection.
func (b *base) forEachOpen(fn func(*openConn)) {
	b.mu.Lock()
	ss := make([]*openConn, 0, len(b.open))
	for s := range b.open {
		ss = append(ss, s)
	}
	b.mu.Unlock()
	for _, s := range ss {
		fn(s)
	}
}

// Profile returns the named tlspolicy profile if the tunnel may use it: TLS
// 1.2 or newer with forward-secret, AEAD suites only. The tunnel carries
// protocols that have no security of their own, so it does not offer the
// legacy profile that a web server might need for old browsers.
func Profile(name string) (tlspolicy.Profile, error) {
	p, err := tlspolicy.ProfileByName(name)
	if err != nil {
		return p, err
	}
	if p.MinVersion < tls.VersionTLS12 {
		return p, fmt.Errorf("profile %q allows %s; the tunnel needs TLS 1.2 or newer: use modern or intermediate", p.Name, tlspolicy.VersionName(p.MinVersion))
	}
	for _, cs := range p.Suites() {
		if !cs.IsAEAD() || !(cs.ForwardSecrecy || cs.IsTLS13()) {
			return p, fmt.Errorf("profile %q allows %s; the tunnel needs forward-secret AEAD suites only: use modern or intermediate", p.Name, cs.Name)
		}
	}
	return p, nil
}
