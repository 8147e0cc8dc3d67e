package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// state is one immutable generation of the configuration, swapped
// atomically on reload.
type state struct {
	cfg          *Config
	hosts        hostTable
	sites        []*site
	limits       Limits
	hstsHeader   []string // shared value slice; len == cap so appends copy
	trusted      []netip.Prefix
	rate         *rateLimiter
	accessLog    *accessLogger
	redirectPort string // "" for 443
	pools        []*upstreamPool

	stopBackground context.CancelFunc
}

type site struct {
	name string
	tls  *tls.Config
	// plainTLS is tls without client authentication, for connections the
	// gateway cannot attach an identity to.
	plainTLS *tls.Config
	routes   routeTable
	// clientCAs verify client certificates; allRequire is true when every
	// route requires one, so that a bad certificate can fail the handshake
	// instead of waiting for a 403.
	clientCAs  *x509.CertPool
	allRequire bool
	// mtls is true when any route verifies client certificates; Host must
	// then equal SNI exactly (no domain fronting around client auth).
	mtls bool
}

type route struct {
	name       string
	prefix     string
	strip      bool
	handler    http.Handler
	clientAuth ClientAuth
	policy     *authz.Policy
	revocation *Revocation
	authorize  func(*http.Request) error
	siteName   string
	metrics    *routeMetrics
}

func (g *Gateway) buildState(cfg *Config) (*state, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lim := cfg.Limits.withDefaults()
	st := &state{
		cfg:     cfg,
		limits:  lim,
		trusted: cfg.TrustedProxies,
		hosts: hostTable{
			exact:    map[string]*site{},
			wildcard: map[string]*site{},
		},
	}
	if v := hstsValue(cfg.HSTS); v != "" {
		st.hstsHeader = []string{v}
	}
	if lim.RatePerSecond > 0 {
		st.rate = newRateLimiter(lim.RatePerSecond, lim.RateBurst)
	}
	if cfg.AccessLog != nil {
		st.accessLog = newAccessLogger(cfg.AccessLog, cfg.AccessLogFormat)
	}
	port := cfg.RedirectPort
	if port == 0 {
		port = portOf(cfg.Listen)
	}
	st.setRedirectPort(port)
	for _, sc := range cfg.Sites {
		s, err := g.buildSite(st, sc)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("site %s: %w", sc.Name, err)
		}
		st.sites = append(st.sites, s)
		for _, h := range sc.Hosts {
			n := normalizeHost(h)
			if suffix, ok := strings.CutPrefix(n, "*."); ok {
				st.hosts.wildcard[suffix] = s
			} else {
				st.hosts.exact[n] = s
			}
		}
		if sc.Name == cfg.DefaultSite {
			st.hosts.fallback = s
		}
	}
	return st, nil
}

func (g *Gateway) buildSite(st *state, sc *Site) (*site, error) {
	s := &site{name: sc.Name}
	var base *tls.Config
	if sc.TLS != nil {
		base = sc.TLS.Clone()
	} else {
		base = tlspolicy.DefaultProfile().TLSConfig()
	}
	certs := sc.Certs
	base.Certificates = nil
	base.GetCertificate = certs.GetCertificate
	base.NextProtos = []string{"h2", "http/1.1"}
	if a, ok := certs.(interface{ ALPNProtocols() []string }); ok {
		// e.g. acme-tls/1 for the tls-alpn-01 challenge; only a client
		// that offers nothing else negotiates it.
		base.NextProtos = append(base.NextProtos, a.ALPNProtocols()...)
	}
	var routes []*route
	for _, rc := range sc.Routes {
		r := &route{
			name:       rc.Name,
			prefix:     rc.PathPrefix,
			strip:      rc.StripPrefix && rc.PathPrefix != "/",
			clientAuth: rc.ClientAuth,
			policy:     rc.Policy,
			revocation: rc.Revocation,
			authorize:  rc.Authorize,
			siteName:   sc.Name,
		}
		if r.name == "" {
			r.name = rc.PathPrefix
		}
		r.metrics = g.metrics.forRoute(sc.Name, r.name)
		switch {
		case rc.Builtin == "whoami":
			r.handler = whoamiHandler{}
		default:
			pool, err := newUpstreamPool(rc, st.limits, st.trusted, g)
			if err != nil {
				return nil, fmt.Errorf("route %s: %w", rc.PathPrefix, err)
			}
			st.pools = append(st.pools, pool)
			r.handler = pool
		}
		if rc.ClientAuth != ClientAuthOff {
			s.mtls = true
		}
		routes = append(routes, r)
	}
	s.plainTLS = base
	if s.mtls {
		// Ask for a certificate (naming the client CAs) and verify it
		// with certcheck once the handshake has it, so that the reason
		// of a failure is known: routes that require a certificate refuse
		// requests without one, optional routes answer a bad one with 403,
		// public routes ignore it. Requiring at the handshake would shut
		// out the site's public routes.
		base = base.Clone()
		base.ClientAuth = tls.RequestClientCert
		base.ClientCAs = sc.ClientCAs
		s.clientCAs = sc.ClientCAs
		s.allRequire = true
		for _, r := range routes {
			s.allRequire = s.allRequire && r.clientAuth == ClientAuthRequire
		}
	}
	s.tls = base
	s.routes = newRouteTable(routes)
	return s, nil
}

func (st *state) setRedirectPort(port int) {
	st.redirectPort = ""
	if port != 443 && port != 0 {
		st.redirectPort = strconv.Itoa(port)
	}
}

func (st *state) startBackground(ctx context.Context, g *Gateway) {
	ctx, cancel := context.WithCancel(ctx)
	st.stopBackground = cancel
	for _, p := range st.pools {
		p.startHealthChecks(ctx)
	}
	if st.rate != nil {
		go st.rate.janitor(ctx)
	}
	if st.accessLog != nil {
		go st.accessLog.flushLoop(ctx)
	}
	go g.watchExpiry(ctx, st)
	seen := map[*Revocation]bool{}
	for _, s := range st.sites {
		for _, r := range s.routes {
			if rv := r.revocation; rv != nil && rv.Run != nil && !seen[rv] {
				seen[rv] = true
				go rv.Run(ctx)
			}
		}
	}
}

func (st *state) close() {
	if st.stopBackground != nil {
		st.stopBackground()
	}
	if st.accessLog != nil {
		st.accessLog.flush()
	}
	for _, p := range st.pools {
		p.close()
	}
}

// watchExpiry publishes each served certificate's expiry as a metric.
func (g *Gateway) watchExpiry(ctx context.Context, st *state) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		for _, sc := range st.cfg.Sites {
			for _, leaf := range sc.Certs.Leaves() {
				if leaf == nil {
					continue
				}
				name := leaf.Subject.CommonName
				if len(leaf.DNSNames) > 0 {
					name = leaf.DNSNames[0]
				}
				g.metrics.certExpiry.WithLabelValues(sc.Name, name).Set(float64(leaf.NotAfter.Unix()))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func hstsValue(h HSTS) string {
	if h.Disabled {
		return ""
	}
	age := h.MaxAge
	if age <= 0 {
		age = 365 * 24 * time.Hour
	}
	v := "max-age=" + strconv.FormatInt(int64(age/time.Second), 10)
	if h.IncludeSubDomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

var errUnknownServerName = errors.New("no site serves this server name and no default site is configured")
