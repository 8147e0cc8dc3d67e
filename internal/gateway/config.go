package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certsource"
)

// Config is everything the gateway serves. It is built by the caller (from
// flags or a config file); the gateway never reads files itself.
type Config struct {
	// Listen is the HTTPS address, e.g. ":8443".
	Listen string
	// HTTPListen is the plain HTTP address that only redirects; "" turns it off.
	HTTPListen string
	// AdminListen is the admin address (metrics, health); "" turns it off.
	// It must never be the public listener.
	AdminListen string
	// RedirectPort is the port named in redirects to https; 0 means the
	// port of Listen. A redirect to port 443 omits the port.
	RedirectPort int

	// Sites are the virtual hosts. A handshake picks a site by SNI; a
	// request must name (Host) the same site it shook hands with.
	Sites []*Site
	// DefaultSite names the site used when the client sends no SNI or an
	// unknown one; "" makes such handshakes fail.
	DefaultSite string

	HSTS   HSTS
	Limits Limits
	// TrustedProxies are the peers whose X-Forwarded-*/Forwarded headers are
	// believed; from anyone else such headers are dropped.
	TrustedProxies []netip.Prefix

	// AccessLog receives one line per request; nil turns it off.
	AccessLog io.Writer
	// AccessLogFormat is "json" (default) or "common".
	AccessLogFormat string

	// ACMEChallenge, when set, answers /.well-known/acme-challenge/ on the
	// plain HTTP listener instead of the redirect.
	ACMEChallenge http.Handler
	// CAPublisher, when set, answers a local CA's revocation and issuer
	// paths (/crl/, /ocsp, /ca/, /root/) on the plain HTTP listener instead
	// of the redirect: certificate status is fetched over plain HTTP (a
	// client checking a certificate cannot rely on TLS with it), and its
	// answers are signed.
	CAPublisher http.Handler
}

// Site is one virtual host: its names, certificate, TLS settings and routes.
type Site struct {
	Name string
	// Hosts are the names this site answers: exact names, IP literals, or
	// "*.example.com" for one label of wildcard.
	Hosts []string
	// Certs provides the serving certificate.
	Certs certsource.Source
	// TLS is the policy skeleton (versions, suites, groups) from tlspolicy;
	// the gateway adds certificates, ALPN and client authentication to a
	// copy of it.
	TLS *tls.Config
	// ClientCAs verify client certificates when a route asks for them.
	ClientCAs *x509.CertPool
	// Routes are matched by longest path prefix.
	Routes []*Route
}

// ClientAuth says whether a route wants a client certificate.
type ClientAuth int

const (
	ClientAuthOff      ClientAuth = iota // no client certificate asked for
	ClientAuthOptional                   // verified when sent, not required
	ClientAuthRequire                    // a verified client certificate is required
)

// Route sends requests under a path prefix to a handler: upstreams or a
// built-in API.
type Route struct {
	// Name labels the route in metrics and logs; defaults to the prefix.
	Name string
	// PathPrefix matches whole path segments: "/api" matches "/api" and
	// "/api/x" but not "/apix". "/" matches everything.
	PathPrefix string
	// StripPrefix removes PathPrefix before the request goes upstream.
	StripPrefix bool

	// Upstreams are proxied to; exactly one of Upstreams and Builtin is set.
	Upstreams []Upstream
	// Balance is "round_robin" (default) or "least_conn".
	Balance string
	// HealthCheck actively probes upstreams; nil means passive ejection only.
	HealthCheck *HealthCheck
	// UpstreamTLS configures https:// upstreams; nil uses the system roots.
	UpstreamTLS *tls.Config
	// UpstreamTimeout bounds the wait for the upstream's response headers;
	// 0 means Limits.UpstreamTimeout.
	UpstreamTimeout time.Duration

	// Builtin names a built-in handler: "whoami".
	Builtin string

	// ClientAuth asks for a client certificate on this route's site.
	ClientAuth ClientAuth
	// Policy decides which verified clients may use a route with ClientAuth
	// on: any rule allows. nil lets every verified client pass. A denial
	// answers 403 naming the rule and never reaches the upstream.
	Policy *authz.Policy
	// Revocation checks verified client certificates; nil checks none.
	Revocation *Revocation
	// Authorize, when set, decides whether a request may pass after TLS
	// client authentication; a non-nil error answers 403 with its text and
	// the request never reaches the upstream.
	Authorize func(r *http.Request) error
}

// Upstream is one backend address: http://host:port, https://host:port or
// unix:/path/to/socket.
type Upstream struct {
	URL string
}

// HealthCheck probes each upstream with GET Path.
type HealthCheck struct {
	Path     string
	Interval time.Duration
	Timeout  time.Duration
	// Unhealthy is how many consecutive failures take an upstream out.
	Unhealthy int
	// Healthy is how many consecutive successes bring it back.
	Healthy int
}

// HSTS is the Strict-Transport-Security header on every HTTPS response.
type HSTS struct {
	Disabled          bool
	MaxAge            time.Duration // default one year
	IncludeSubDomains bool
	Preload           bool
}

// Limits protect the gateway and upstreams. Zero fields take the defaults
// documented in DefaultLimits.
type Limits struct {
	ReadHeaderTimeout time.Duration // time to send request headers (slowloris)
	IdleTimeout       time.Duration // keep-alive idle time
	UpstreamTimeout   time.Duration // wait for upstream response headers
	DialTimeout       time.Duration // connect to an upstream
	ShutdownTimeout   time.Duration // drain in-flight requests on shutdown
	MaxHeaderBytes    int           // request line and headers; larger answers 431
	MaxBodyBytes      int64         // request body; larger answers 413; <0 unlimited
	MaxConns          int           // concurrent client connections; <0 unlimited
	RatePerSecond     float64       // per client IP; <0 unlimited
	RateBurst         int
}

// DefaultLimits are generous for APIs and safe against slow clients.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	IdleTimeout:       120 * time.Second,
	UpstreamTimeout:   60 * time.Second,
	DialTimeout:       5 * time.Second,
	ShutdownTimeout:   30 * time.Second,
	MaxHeaderBytes:    64 << 10,
	MaxBodyBytes:      10 << 20,
	MaxConns:          10000,
	RatePerSecond:     -1,
	RateBurst:         0,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.ReadHeaderTimeout > 0 {
		d.ReadHeaderTimeout = l.ReadHeaderTimeout
	}
	if l.IdleTimeout > 0 {
		d.IdleTimeout = l.IdleTimeout
	}
	if l.UpstreamTimeout > 0 {
		d.UpstreamTimeout = l.UpstreamTimeout
	}
	if l.DialTimeout > 0 {
		d.DialTimeout = l.DialTimeout
	}
	if l.ShutdownTimeout > 0 {
		d.ShutdownTimeout = l.ShutdownTimeout
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if l.MaxBodyBytes != 0 {
		d.MaxBodyBytes = l.MaxBodyBytes
	}
	if l.MaxConns != 0 {
		d.MaxConns = l.MaxConns
	}
	if l.RatePerSecond != 0 {
		d.RatePerSecond = l.RatePerSecond
		d.RateBurst = l.RateBurst
		if d.RateBurst <= 0 {
			d.RateBurst = max(1, int(l.RatePerSecond))
		}
	}
	return d
}

// Validate reports every problem in c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: an HTTPS address is required, e.g. :8443"))
	}
	if len(c.Sites) == 0 {
		errs = append(errs, errors.New("sites: at least one site is required"))
	}
	seenSite := map[string]bool{}
	seenHost := map[string]string{}
	for i, s := range c.Sites {
		where := fmt.Sprintf("site %d (%s)", i+1, s.Name)
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("site %d: a name is required", i+1))
		} else if seenSite[s.Name] {
			errs = append(errs, fmt.Errorf("%s: duplicate site name", where))
		}
		seenSite[s.Name] = true
		if len(s.Hosts) == 0 {
			errs = append(errs, fmt.Errorf("%s: hosts: at least one host name is required", where))
		}
		for _, h := range s.Hosts {
			n := normalizeHost(h)
			if !validHostPattern(n) {
				errs = append(errs, fmt.Errorf("%s: host %q is not a valid name, IP address or *.wildcard", where, h))
				continue
			}
			if other, ok := seenHost[n]; ok {
				errs = append(errs, fmt.Errorf("%s: host %q is already served by site %s; a host belongs to one site", where, h, other))
			}
			seenHost[n] = s.Name
		}
		if s.Certs == nil {
			errs = append(errs, fmt.Errorf("%s: no certificate source", where))
		}
		if len(s.Routes) == 0 {
			errs = append(errs, fmt.Errorf("%s: routes: at least one route is required", where))
		}
		for j, r := range s.Routes {
			rw := fmt.Sprintf("%s route %d (%s)", where, j+1, r.PathPrefix)
			if !strings.HasPrefix(r.PathPrefix, "/") {
				errs = append(errs, fmt.Errorf("%s: path prefix must start with /", rw))
			}
			switch {
			case r.Builtin != "" && len(r.Upstreams) > 0:
				errs = append(errs, fmt.Errorf("%s: set either upstreams or a built-in handler, not both", rw))
			case r.Builtin == "" && len(r.Upstreams) == 0:
				errs = append(errs, fmt.Errorf("%s: upstreams: at least one upstream is required", rw))
			case r.Builtin != "" && r.Builtin != "whoami":
				errs = append(errs, fmt.Errorf("%s: unknown built-in handler %q; expected whoami", rw, r.Builtin))
			}
			for _, u := range r.Upstreams {
				if _, err := parseUpstream(u.URL); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", rw, err))
				}
			}
			switch r.Balance {
			case "", "round_robin", "least_conn":
			default:
				errs = append(errs, fmt.Errorf("%s: balance %q: expected round_robin or least_conn", rw, r.Balance))
			}
			if r.ClientAuth != ClientAuthOff && s.ClientCAs == nil {
				errs = append(errs, fmt.Errorf("%s: client authentication needs client CAs on the site", rw))
			}
			if r.ClientAuth == ClientAuthOff && (!r.Policy.Empty() || r.Revocation != nil) {
				errs = append(errs, fmt.Errorf("%s: allow rules and revocation checks need client authentication (require or optional) on the route", rw))
			}
			if r.Revocation != nil && r.Revocation.Checker == nil {
				errs = append(errs, fmt.Errorf("%s: revocation without a checker", rw))
			}
		}
	}
	if c.DefaultSite != "" && !seenSite[c.DefaultSite] {
		errs = append(errs, fmt.Errorf("default site %q is not one of the sites", c.DefaultSite))
	}
	switch c.AccessLogFormat {
	case "", "json", "common":
	default:
		errs = append(errs, fmt.Errorf("access log format %q: expected json or common", c.AccessLogFormat))
	}
	return errors.Join(errs...)
}

// upstreamTarget is a parsed Upstream.
type upstreamTarget struct {
	scheme string // http or https
	host   string // host:port, or a placeholder for unix sockets
	socket string // unix socket path, if any
	path   string // base path joined in front of the request path
}

func parseUpstream(raw string) (upstreamTarget, error) {
	if p, ok := strings.CutPrefix(raw, "unix:"); ok {
		if p == "" || !strings.HasPrefix(p, "/") {
			return upstreamTarget{}, fmt.Errorf("upstream %q: a unix socket needs an absolute path, e.g. unix:/run/api.sock", raw)
		}
		return upstreamTarget{scheme: "http", host: "unix", socket: p}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return upstreamTarget{}, fmt.Errorf("upstream %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return upstreamTarget{}, fmt.Errorf("upstream %q: scheme must be http, https or unix", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return upstreamTarget{}, fmt.Errorf("upstream %q: no host; expected e.g. http://127.0.0.1:9000", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return upstreamTarget{}, fmt.Errorf("upstream %q: query, fragment and user info are not allowed", raw)
	}
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	return upstreamTarget{scheme: u.Scheme, host: host, path: strings.TrimSuffix(u.EscapedPath(), "/")}, nil
}
