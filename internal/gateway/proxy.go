package gateway

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Passive ejection: after this many consecutive transport failures an
// upstream is skipped for ejectFor, then tried again.
const (
	ejectAfter = 3
	ejectFor   = 10 * time.Second
)

// upstreamPool balances one route's requests over its upstreams. All
// upstreams of a route share one Transport so idle connections are reused
// across requests.
type upstreamPool struct {
	routeName string
	backends  []*backend
	leastConn bool
	next      atomic.Uint64
	transport *http.Transport // https upstreams, request bodies, upgrades, health checks
	h1        *h1Transport    // everything else
	health    *HealthCheck
	g         *Gateway
	cancel    context.CancelFunc
}

type backend struct {
	url          string
	target       upstreamTarget
	proxy        *httputil.ReverseProxy
	pool         *upstreamPool
	inflight     atomic.Int64
	unhealthy    atomic.Bool  // from active health checks
	failures     atomic.Int32 // consecutive transport failures
	ejectedUntil atomic.Int64 // unix nanoseconds
}

// bufferPool lends the 32 KiB copy buffers httputil.ReverseProxy uses, so a
// response body costs no fresh allocation.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *v.(*[]byte)
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

var copyBuffers = &bufferPool{}

func newUpstreamPool(rc *Route, lim Limits, trusted []netip.Prefix, g *Gateway) (*upstreamPool, error) {
	p := &upstreamPool{
		routeName: rc.PathPrefix,
		leastConn: rc.Balance == "least_conn",
		health:    rc.HealthCheck,
		g:         g,
	}
	timeout := rc.UpstreamTimeout
	if timeout <= 0 {
		timeout = lim.UpstreamTimeout
	}
	sockets := map[string]string{}
	dialer := &net.Dialer{Timeout: lim.DialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if path, ok := sockets[addr]; ok {
			return dialer.DialContext(ctx, "unix", path)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	p.transport = &http.Transport{
		DialContext:           dial,
		TLSClientConfig:       rc.UpstreamTLS,
		TLSHandshakeTimeout:   lim.DialTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	if rc.UpstreamTLS != nil {
		p.transport.TLSClientConfig = rc.UpstreamTLS.Clone()
	}
	p.h1 = newH1Transport(p.transport, dial, timeout)
	errLog := log.New(&proxyErrorLog{g: g}, "", 0)
	for i, u := range rc.Upstreams {
		t, err := parseUpstream(u.URL)
		if err != nil {
			return nil, err
		}
		if t.socket != "" {
			t.host = fmt.Sprintf("unix-%d.invalid:80", i)
			sockets[t.host] = t.socket
		}
		b := &backend{url: u.URL, target: t, pool: p}
		b.proxy = &httputil.ReverseProxy{
			Rewrite:        b.rewrite(trusted),
			Transport:      p.h1,
			BufferPool:     copyBuffers,
			ErrorHandler:   b.proxyError,
			ModifyResponse: b.upstreamAnswered,
			ErrorLog:       errLog,
		}
		p.backends = append(p.backends, b)
	}
	return p, nil
}

func (b *backend) rewrite(trusted []netip.Prefix) func(*httputil.ProxyRequest) {
	t := b.target
	return func(pr *httputil.ProxyRequest) {
		u := pr.Out.URL
		u.Scheme = t.scheme
		u.Host = t.host
		if t.path != "" {
			u.Path = t.path + u.Path
			if u.RawPath != "" {
				u.RawPath = t.path + u.RawPath
			}
		}
		// The upstream sees the Host the client asked for, as it would
		// without the gateway in front.
		pr.Out.Host = pr.In.Host
		setForwarded(pr.In, pr.Out, trusted)
	}
}

// upstreamAnswered resets passive ejection and keeps the gateway's HSTS
// header the only one.
func (b *backend) upstreamAnswered(res *http.Response) error {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
	if _, ok := res.Header["Strict-Transport-Security"]; ok {
		delete(res.Header, "Strict-Transport-Security")
	}
	return nil
}

func (p *upstreamPool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := p.pick()
	if b == nil {
		writeError(w, http.StatusBadGateway, "no_healthy_upstream", "no upstream of this route is healthy; check the upstream services")
		return
	}
	b.inflight.Add(1)
	b.proxy.ServeHTTP(w, r)
	b.inflight.Add(-1)
}

func (b *backend) available(now int64) bool {
	return !b.unhealthy.Load() && b.ejectedUntil.Load() <= now
}

// pick chooses an available upstream; when all are out it still tries one,
// because a wrong "down" verdict must not turn into a total outage.
func (p *upstreamPool) pick() *backend {
	n := len(p.backends)
	if n == 1 {
		return p.backends[0]
	}
	now := time.Now().UnixNano()
	if p.leastConn {
		var best *backend
		start := int(p.next.Add(1) % uint64(n)) // break ties fairly
		for i := range n {
			b := p.backends[(start+i)%n]
			if !b.available(now) {
				continue
			}
			if best == nil || b.inflight.Load() < best.inflight.Load() {
				best = b
			}
		}
		if best != nil {
			return best
		}
	} else {
		start := p.next.Add(1)
		for i := range uint64(n) {
			b := p.backends[(start+i)%uint64(n)]
			if b.available(now) {
				return b
			}
		}
	}
	return p.backends[int(p.next.Load()%uint64(n))]
}

// proxyError answers a failed upstream exchange with a JSON error: 504 when
// the upstream was too slow, 413 for an oversized streamed body, 502
// otherwise. Transport failures count towards passive ejection.
func (b *backend) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than the limit")
		return
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
		return
	case isTimeout(err):
		b.pool.g.metrics.upstreamErrors.WithLabelValues(b.url, "timeout").Inc()
		writeError(w, http.StatusGatewayTimeout, "upstream_timeout", "the upstream did not answer in time")
		return
	}
	reason := "unreachable"
	if errors.Is(err, syscall.ECONNREFUSED) {
		reason = "refused"
	}
	b.pool.g.metrics.upstreamErrors.WithLabelValues(b.url, reason).Inc()
	if b.failures.Add(1) >= ejectAfter {
		b.ejectedUntil.Store(time.Now().Add(ejectFor).UnixNano())
		b.failures.Store(0)
		b.pool.g.logger.Warn("upstream ejected after repeated failures", "upstream", b.url, "for", ejectFor.String(), "error", err)
	}
	writeError(w, http.StatusBadGateway, "upstream_unreachable", "the upstream could not be reached: "+upstreamErrText(err))
}

func upstreamErrText(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "connection refused"
		}
		return op.Op + " failed"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (p *upstreamPool) startHealthChecks(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	for _, b := range p.backends {
		p.g.metrics.upstreamUp.WithLabelValues(b.url).Set(1)
	}
	if p.health == nil {
		return
	}
	hc := *p.health
	if hc.Interval <= 0 {
		hc.Interval = 10 * time.Second
	}
	if hc.Timeout <= 0 {
		hc.Timeout = 2 * time.Second
	}
	if hc.Unhealthy <= 0 {
		hc.Unhealthy = 2
	}
	if hc.Healthy <= 0 {
		hc.Healthy = 1
	}
	if hc.Path == "" {
		hc.Path = "/"
	}
	for _, b := range p.backends {
		go b.healthLoop(ctx, hc)
	}
}

func (b *backend) healthLoop(ctx context.Context, hc HealthCheck) {
	client := &http.Client{Transport: b.pool.transport, Timeout: hc.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	url := b.target.scheme + "://" + b.target.host + b.target.path + hc.Path
	t := time.NewTicker(hc.Interval)
	defer t.Stop()
	ok, bad := 0, 0
	for {
		healthy := probe(ctx, client, url)
		if healthy {
			ok, bad = ok+1, 0
		} else {
			ok, bad = 0, bad+1
		}
		switch {
		case !healthy && bad >= hc.Unhealthy && !b.unhealthy.Load():
			b.unhealthy.Store(true)
			b.pool.g.metrics.upstreamUp.WithLabelValues(b.url).Set(0)
			b.pool.g.logger.Warn("upstream failed its health check", "upstream", b.url, "check", url)
		case healthy && ok >= hc.Healthy && b.unhealthy.Load():
			b.unhealthy.Store(false)
			b.pool.g.metrics.upstreamUp.WithLabelValues(b.url).Set(1)
			b.pool.g.logger.Info("upstream healthy again", "upstream", b.url)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func probe(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "tlsgate-health-check")
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 400
}

func (p *upstreamPool) close() {
	if p.cancel != nil {
		p.cancel()
	}
	// Idle connections go now; active ones finish their requests.
	p.h1.close()
}

type proxyErrorLog struct{ g *Gateway }

func (l *proxyErrorLog) Write(p []byte) (int, error) {
	l.g.logger.Debug("proxy", "message", trimNL(string(p)))
	return len(p), nil
}
