// Package gateway is tlsgate's HTTPS server: it terminates TLS through
// crypto/tls, redirects plain HTTP, sets HSTS, routes requests by site and
// path to upstreams or built-in handlers, enforces limits, and exposes
// metrics and health on a separate admin listener.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/netutil"

	"github.com/tlsgate/tlsgate/internal/authz"
)

// Options are the gateway's collaborators.
type Options struct {
	Logger *slog.Logger
	// Registry receives the gateway's metrics; nil makes a private one that
	// the admin listener serves.
	Registry *prometheus.Registry
}

// Gateway serves one Config and can swap it for another without dropping
// connections.
type Gateway struct {
	logger  *slog.Logger
	metrics *metrics
	state   atomic.Pointer[state]
	ready   atomic.Bool

	denyList *authz.DenyList
	connMu   sync.Mutex
	conns    map[*tls.Conn]struct{} // open HTTPS connections with a verified client, for the deny-list

	baseTLS *tls.Config // listener config: only GetConfigForClient and ticket keys

	mu       sync.Mutex // guards the fields below
	servers  []*http.Server
	addrs    map[string]net.Addr
	errc     chan error
	started  bool
	bgCancel context.CancelFunc
}

// Listener names for Addr.
const (
	ListenerHTTPS = "https"
	ListenerHTTP  = "http"
	ListenerAdmin = "admin"
)

// New validates cfg and prepares a gateway; nothing listens until Start.
func New(cfg *Config, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g := &Gateway{
		logger:   opts.Logger,
		metrics:  newMetrics(reg),
		addrs:    map[string]net.Addr{},
		errc:     make(chan error, 3),
		denyList: authz.NewDenyList(),
		conns:    map[*tls.Conn]struct{}{},
	}
	st, err := g.buildState(cfg)
	if err != nil {
		return nil, err
	}
	g.state.Store(st)
	// The listener's config only dispatches to the site's config; session
	// ticket keys live here and are rotated by crypto/tls.
	g.baseTLS = &tls.Config{
		GetConfigForClient: g.configForClient,
		MinVersion:         tls.VersionTLS12,
	}
	return g, nil
}

// Start binds the listeners and serves in the background. Use Addr to learn
// bound addresses (useful with port 0) and Wait or Shutdown to end.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return errors.New("gateway already started")
	}
	st := g.state.Load()
	cfg := st.cfg
	lim := st.limits

	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	listen := func(name, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s listener on %s: %w; choose another address with --%s", name, addr, err, flagFor(name))
		}
		lns = append(lns, ln)
		g.addrs[name] = ln.Addr()
		return ln, nil
	}
	httpsLn, err := listen(ListenerHTTPS, cfg.Listen)
	if err != nil {
		return err
	}
	var httpLn, adminLn net.Listener
	if cfg.HTTPListen != "" {
		if httpLn, err = listen(ListenerHTTP, cfg.HTTPListen); err != nil {
			return err
		}
	}
	if cfg.AdminListen != "" {
		if adminLn, err = listen(ListenerAdmin, cfg.AdminListen); err != nil {
			return err
		}
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.bgCancel = cancel
	st.startBackground(bg, g)
	go g.denyList.Watch(bg, g.closeDenied)

	errLog := log.New(&serverErrorLog{g: g}, "", 0)
	// The tracking wrapper must be the raw connection under TLS: TLS
	// callbacks find it in ClientHelloInfo.Conn. The handshake listener
	// does the TLS handshake, so the server gets no TLSConfig of its own
	// (net/http then offers HTTP/2 on connections that negotiated h2).
	var raw net.Listener = httpsLn
	if lim.MaxConns > 0 {
		raw = netutil.LimitListener(raw, lim.MaxConns)
	}
	raw = &trackingListener{Listener: raw, g: g}
	ln := newHandshakeListener(raw, g.baseTLS, lim.ReadHeaderTimeout, g)
	if cfg.RedirectPort == 0 && portOf(cfg.Listen) == 0 {
		st.setRedirectPort(portOf(httpsLn.Addr().String()))
	}
	httpsSrv := &http.Server{
		Handler:           http.HandlerFunc(g.serveHTTPS),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          errLog,
		ConnContext:       connContext,
		ConnState:         g.connState,
		// The protocol's default frame size, stated: clients that assume
		// 16 KiB until told otherwise are then right, and h2spec agrees.
		HTTP2: &http.HTTP2Config{MaxReadFrameSize: 16 << 10},
	}
	g.serve(httpsSrv, func() error { return httpsSrv.Serve(ln) })

	if httpLn != nil {
		redir := &http.Server{
			Handler:           http.HandlerFunc(g.serveRedirect),
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			ErrorLog:          errLog,
		}
		var rl net.Listener = httpLn
		if lim.MaxConns > 0 {
			rl = netutil.LimitListener(rl, lim.MaxConns)
		}
		g.serve(redir, func() error { return redir.Serve(rl) })
	}
	if adminLn != nil {
		admin := &http.Server{
			Handler:           g.adminHandler(),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       lim.IdleTimeout,
			ErrorLog:          errLog,
		}
		g.serve(admin, func() error { return admin.Serve(adminLn) })
	}
	g.started = true
	g.ready.Store(true)
	return nil
}

func flagFor(listener string) string {
	switch listener {
	case ListenerHTTP:
		return "http-listen"
	case ListenerAdmin:
		return "admin"
	}
	return "listen"
}

func (g *Gateway) serve(srv *http.Server, run func() error) {
	g.servers = append(g.servers, srv)
	go func() {
		if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.errc <- err
		}
	}()
}

// Addr returns the bound address of a listener (ListenerHTTPS, ListenerHTTP,
// ListenerAdmin), or nil when it is off or not started.
func (g *Gateway) Addr(name string) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addrs[name]
}

// Wait blocks until a listener fails or ctx is done.
func (g *Gateway) Wait(ctx context.Context) error {
	select {
	case err := <-g.errc:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx is done; then it closes what is left.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.ready.Store(false)
	g.mu.Lock()
	servers := g.servers
	g.servers = nil
	cancel := g.bgCancel
	g.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	if cancel != nil {
		cancel()
	}
	if st := g.state.Load(); st != nil {
		st.close()
	}
	return errors.Join(errs...)
}

// ShutdownTimeout is how long Shutdown should be given, from the limits.
func (g *Gateway) ShutdownTimeout() time.Duration { return g.state.Load().limits.ShutdownTimeout }

// Reload validates cfg and, when it is valid, swaps it in: new connections
// and requests use it at once, open connections are not dropped. Listener
// addresses cannot change without a restart.
func (g *Gateway) Reload(cfg *Config) error {
	old := g.state.Load()
	if cfg.Listen != old.cfg.Listen || cfg.HTTPListen != old.cfg.HTTPListen || cfg.AdminListen != old.cfg.AdminListen {
		return errors.New("listener addresses changed; restart tlsgate serve to move listeners")
	}
	st, err := g.buildState(cfg)
	if err != nil {
		return err
	}
	if a := g.Addr(ListenerHTTPS); a != nil && cfg.RedirectPort == 0 && portOf(cfg.Listen) == 0 {
		st.setRedirectPort(portOf(a.String()))
	}
	g.mu.Lock()
	started := g.started && g.bgCancel != nil
	g.mu.Unlock()
	if started {
		st.startBackground(context.Background(), g)
	}
	g.state.Store(st)
	old.close()
	g.forgetRemovedUpstreams(old, st)
	g.metrics.reloads.WithLabelValues("ok").Inc()
	return nil
}

// CountReloadFailure records a reload that was refused before reaching
// Reload (for example a config file that did not parse).
func (g *Gateway) CountReloadFailure() { g.metrics.reloads.WithLabelValues("error").Inc() }

// Metrics returns the registry the admin listener serves.
func (g *Gateway) Metrics() *prometheus.Registry { return g.metrics.reg }

// CertificateReloadHook returns a callback for certsource.FilesOptions.OnReload
// that counts reload results in the gateway's metrics.
func (g *Gateway) CertificateReloadHook() func(string, error) {
	return g.metrics.certReload
}

// CertReloadCounter is the same hook usable before a Gateway exists.
func CertReloadCounter(reg *prometheus.Registry) func(string, error) {
	return newCertReloadCounter(reg)
}

// serverErrorLog turns net/http's error log into counted, structured events.
type serverErrorLog struct{ g *Gateway }

func (l *serverErrorLog) Write(p []byte) (int, error) {
	msg := trimNL(string(p))
	if from, detail, ok := parseHandshakeError(msg); ok {
		l.g.logHandshakeFailure(from, detail)
		return len(p), nil
	}
	l.g.logger.Warn("http server", "message", msg)
	return len(p), nil
}

// logHandshakeFailure counts a failed handshake by its reason and logs it
// in net/http's words.
func (g *Gateway) logHandshakeFailure(from, detail string) {
	reason := classifyHandshakeError(detail)
	g.metrics.handshakeFailed(reason)
	level := slog.LevelDebug
	if strings.HasPrefix(reason, "client_certificate_") {
		// A refused client certificate is an access decision, logged
		// like a 403 (the detail names the certificate).
		level = slog.LevelWarn
	}
	if !g.logger.Enabled(context.Background(), level) {
		return
	}
	g.logger.Log(context.Background(), level, "TLS handshake failed", "remote", from, "reason", reason,
		"detail", handshakeErrorPrefix+from+": "+detail)
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// forgetRemovedUpstreams drops the health series of upstreams that the new
// configuration no longer has, so dashboards do not show ghosts.
func (g *Gateway) forgetRemovedUpstreams(old, cur *state) {
	kept := map[string]bool{}
	for _, p := range cur.pools {
		for _, b := range p.backends {
			kept[b.url] = true
		}
	}
	for _, p := range old.pools {
		for _, b := range p.backends {
			if !kept[b.url] {
				g.metrics.upstreamUp.DeleteLabelValues(b.url)
			}
		}
	}
}
