package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// File is the schema of tlsgate.yaml, the configuration of tlsgate serve.
type File struct {
	Fields `yaml:"-"`

	// Listen is the HTTPS listener address.
	Listen string `yaml:"listen"`
	// HTTPListen is the plain-HTTP listener that redirects to HTTPS, or "off".
	HTTPListen string `yaml:"http_listen"`
	// RedirectPort is the HTTPS port named in redirects when clients reach
	// the listener through another port (a container mapping 443 to 8443);
	// default the port of listen.
	RedirectPort int `yaml:"redirect_port"`
	// Admin is the metrics and health listener, or "off". It must be loopback
	// unless admin_allow_remote is set.
	Admin string `yaml:"admin"`
	// AdminAllowRemote lets the admin listener bind a non-loopback address.
	AdminAllowRemote bool `yaml:"admin_allow_remote"`
	// TLS sets the default TLS policy for every site.
	TLS TLS `yaml:"tls"`
	// HSTS sets Strict-Transport-Security on every HTTPS response.
	HSTS HSTS `yaml:"hsts"`
	// Sites are the host names served, each with its routes.
	Sites []Site `yaml:"sites"`
	// Limits protect the gateway and its upstreams.
	Limits Limits `yaml:"limits"`
	// TrustedProxies are addresses or CIDR ranges whose X-Forwarded-* and
	// Forwarded headers are believed; everyone else's are dropped.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AccessLog says where one line per request goes.
	AccessLog AccessLog `yaml:"access_log"`

	name string // the file name given to Parse, for errors found later
}

// Limits are timeouts and sizes; unset values take the gateway defaults.
type Limits struct {
	Fields            `yaml:"-"`
	ReadHeaderTimeout *time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       *time.Duration `yaml:"idle_timeout"`
	UpstreamTimeout   *time.Duration `yaml:"upstream_timeout"`
	DialTimeout       *time.Duration `yaml:"dial_timeout"`
	ShutdownTimeout   *time.Duration `yaml:"shutdown_timeout"`
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes *int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds request bodies (413 beyond); -1 is unlimited.
	MaxBodyBytes *int64 `yaml:"max_body_bytes"`
	// MaxConnections bounds concurrent client connections; -1 is unlimited.
	MaxConnections *int `yaml:"max_connections"`
	// RateLimit is a per-client-address token bucket (429 beyond).
	RateLimit *RateLimit `yaml:"rate_limit"`
}

// RateLimit is requests per second per client address, with a burst.
type RateLimit struct {
	Fields    `yaml:"-"`
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// AccessLog configures the request log.
type AccessLog struct {
	Fields `yaml:"-"`
	// Output is stdout (default), stderr, off, or a file path.
	Output string `yaml:"output"`
	// Format is json (default) or common (Common Log Format).
	Format string `yaml:"format"`
}

// TLS is a TLS policy choice.
type TLS struct {
	Fields `yaml:"-"`
	// Profile is modern (TLS 1.3 only) or intermediate (TLS 1.3 and 1.2 with
	// ECDHE and AEAD suites, the default). old must be chosen explicitly and
	// is warned about at every start.
	Profile string `yaml:"profile"`
}

// HSTS configures the Strict-Transport-Security header.
type HSTS struct {
	Fields            `yaml:"-"`
	MaxAge            *time.Duration `yaml:"max_age"`
	IncludeSubdomains bool           `yaml:"include_subdomains"`
	Preload           bool           `yaml:"preload"`
}

// Site is one or more host names served with one certificate source.
type Site struct {
	Fields `yaml:"-"`
	// Name labels the site in logs and metrics; default its first host.
	Name string `yaml:"name"`
	// Default makes this site answer handshakes without SNI (clients that
	// dial an IP address) or with an unknown name; without a default site
	// such handshakes fail.
	Default     bool        `yaml:"default"`
	Hosts       []string    `yaml:"hosts"`
	Certificate Certificate `yaml:"certificate"`
	TLS         *TLS        `yaml:"tls"`
	Routes      []Route     `yaml:"routes"`

	// ClientAuth asks clients for a certificate on every route of the
	// site that does not say otherwise: require, optional or off (default).
	ClientAuth string `yaml:"client_auth"`
	// ClientCA lists PEM files of the CAs that issue client certificates;
	// default the local CA's root.
	ClientCA []string `yaml:"client_ca"`
	// Authz are the allow rules of the site's client-authenticated routes
	// that have none of their own; any rule allows (docs/access-control.md).
	Authz []authz.Rule `yaml:"authz"`
	// Revocation checks client certificates; default the local CA's store
	// when client_ca is the local CA.
	Revocation *Revocation `yaml:"revocation"`
}

// Revocation says where the revocation status of client certificates comes
// from and what to do when it cannot be told.
type Revocation struct {
	Fields `yaml:"-"`
	// Local asks the local CA's store (takes effect at once); default true
	// when client_ca is the local CA.
	Local *bool `yaml:"local"`
	// CRL lists CRL files (PEM or DER) or http(s) URLs, re-read every
	// Refresh.
	CRL []string `yaml:"crl"`
	// CRLDistributionPoint fetches the CRL at the distribution point each
	// client certificate names, again every Refresh.
	CRLDistributionPoint bool `yaml:"crl_distribution_point"`
	// OCSP asks the responder named in each client certificate, caching
	// answers for Refresh.
	OCSP bool `yaml:"ocsp"`
	// Refresh is how often CRLs are re-read and OCSP answers renewed;
	// default 1m.
	Refresh *time.Duration `yaml:"refresh"`
	// Failure is closed (default: a client whose status cannot be told is
	// refused) or open (it passes).
	Failure string `yaml:"failure"`
}

// Certificate says where a site's serving certificate comes from.
type Certificate struct {
	Fields `yaml:"-"`
	// Source is local (the built-in CA), files or acme.
	Source string `yaml:"source"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
	// CA, with source files, is a PEM bundle the certificate chain must
	// verify against before it is served.
	CA string `yaml:"ca"`
	// ACME configures source acme.
	ACME *ACME `yaml:"acme"`
	// OnFirstHandshake, with source local, issues the certificate when the
	// first client connects instead of at start.
	OnFirstHandshake bool `yaml:"on_first_handshake"`
}

// ACME is where and how certificates are obtained with the ACME protocol.
type ACME struct {
	Fields `yaml:"-"`
	// Directory is the CA's ACME directory URL.
	Directory string `yaml:"directory"`
	// Email is the account contact.
	Email string `yaml:"email"`
	// CARoots is a PEM bundle trusted for the ACME server's own HTTPS (a
	// private ACME CA); default the system roots.
	CARoots string `yaml:"ca_roots"`
	// Challenges lists the challenge types to use: http-01, tls-alpn-01
	// (default both).
	Challenges []string `yaml:"challenges"`
}

// Route sends requests whose path starts with Path to its upstreams.
type Route struct {
	Fields    `yaml:"-"`
	Path      string   `yaml:"path"`
	Upstreams []string `yaml:"upstreams"`
	// Handler is a built-in API served instead of upstreams: whoami.
	Handler string `yaml:"handler"`
	// StripPrefix removes Path before the request goes upstream.
	StripPrefix bool `yaml:"strip_prefix"`
	// Balance is round_robin (default) or least_conn.
	Balance string `yaml:"balance"`
	// Timeout bounds the wait for the upstream's response headers (504).
	Timeout *time.Duration `yaml:"timeout"`
	// HealthCheck probes every upstream and takes failing ones out.
	HealthCheck *HealthCheck `yaml:"health_check"`
	// UpstreamTLS verifies https:// upstreams.
	UpstreamTLS *UpstreamTLS `yaml:"upstream_tls"`

	// ClientAuth, Authz and Revocation override the site's for this route.
	ClientAuth string       `yaml:"client_auth"`
	Authz      []authz.Rule `yaml:"authz"`
	Revocation *Revocation  `yaml:"revocation"`
}

// HealthCheck is an active probe: GET Path every Interval.
type HealthCheck struct {
	Fields   `yaml:"-"`
	Path     string         `yaml:"path"`
	Interval *time.Duration `yaml:"interval"`
	Timeout  *time.Duration `yaml:"timeout"`
	// Unhealthy consecutive failures take an upstream out; Healthy
	// consecutive successes bring it back.
	Unhealthy int `yaml:"unhealthy"`
	Healthy   int `yaml:"healthy"`
}

// UpstreamTLS is how the gateway verifies an https:// upstream.
type UpstreamTLS struct {
	Fields `yaml:"-"`
	// CA is a PEM bundle of roots trusted for the upstream instead of the
	// system roots.
	CA string `yaml:"ca"`
	// ServerName is verified instead of the upstream URL's host.
	ServerName string `yaml:"server_name"`
}

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read the configuration: %v", err)}}
	}
	return Parse(path, data)
}

// Parse decodes and validates configuration bytes; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	f := File{name: name}
	es, err := decodeErrors(Decode(name, data, &f))
	if err != nil {
		return nil, err
	}
	// Validate even when decoding found problems, so that one run shows
	// every error; but leave out what a decoding error already explains.
	for _, v := range f.Validate().inFile(name) {
		if !explained(v, es) {
			es = append(es, v)
		}
	}
	if err := es.Err(); err != nil {
		return nil, err
	}
	return &f, nil
}

// decodeErrors returns the errors of a decode that went through the whole
// document, or err itself when the document could not be read at all.
func decodeErrors(err error) (Errors, error) {
	if err == nil {
		return nil, nil
	}
	es, ok := err.(Errors)
	if !ok {
		return nil, err
	}
	for _, e := range es {
		if e.Key == "" {
			return nil, es
		}
	}
	return es, nil
}

// explained reports whether v concerns a key at, above or below the key of
// an existing error.
func explained(v Error, es Errors) bool {
	under := func(a, b string) bool {
		return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
	}
	for _, e := range es {
		if under(v.Key, e.Key) || under(e.Key, v.Key) {
			return true
		}
	}
	return false
}

// Validate checks the meaning of the decoded values; Decode checked their form.
func (f *File) Validate() Errors {
	var es Errors
	checkListen(&es, f.Fields, "listen", f.Listen, false)
	checkListen(&es, f.Fields, "http_listen", f.HTTPListen, true)
	checkListen(&es, f.Fields, "admin", f.Admin, true)
	if f.Admin != "" && f.Admin != "off" && !f.AdminAllowRemote && !loopbackAddr(f.Admin) {
		f.Add(&es, "admin", "the admin listener %q is not a loopback address; it serves metrics and must stay private: use 127.0.0.1:PORT, or set admin_allow_remote: true", f.Admin)
	}
	if f.RedirectPort < 0 || f.RedirectPort > 65535 {
		f.Add(&es, "redirect_port", "invalid port %d; expected 1-65535", f.RedirectPort)
	}
	f.Limits.validate(&es)
	for i, p := range f.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			f.Add(&es, fmt.Sprintf("trusted_proxies[%d]", i), "%v", err)
		}
	}
	f.AccessLog.validate(&es)
	f.TLS.validate(&es)
	if f.HSTS.MaxAge != nil && *f.HSTS.MaxAge < 0 {
		f.HSTS.Add(&es, "max_age", "must not be negative")
	}
	if f.HSTS.Preload && (f.HSTS.MaxAge == nil || *f.HSTS.MaxAge < 365*24*time.Hour || !f.HSTS.IncludeSubdomains) {
		f.HSTS.Add(&es, "preload", "preload needs max_age of at least 365d and include_subdomains: true (the preload list refuses less)")
	}
	if len(f.Sites) == 0 {
		f.Add(&es, "sites", "no site configured; expected at least one site with hosts and routes")
	}
	seenHost := map[string]string{}
	seenName := map[string]bool{}
	defaults := 0
	for i := range f.Sites {
		s := &f.Sites[i]
		if s.Default {
			defaults++
			if defaults > 1 {
				s.Add(&es, "default", "only one site can be the default")
			}
		}
		if name := s.SiteName(); name != "" {
			if seenName[name] {
				s.Add(&es, "name", "site name %q is already used; give each site its own name", name)
			}
			seenName[name] = true
		}
		if len(s.Hosts) == 0 {
			s.Add(&es, "hosts", "a site needs at least one host name, e.g. hosts: [api.example.com]")
		}
		for j, h := range s.Hosts {
			item := fmt.Sprintf("hosts[%d]", j)
			if err := checkHost(h); err != nil {
				s.Add(&es, item, "%v", err)
				continue
			}
			lh := strings.ToLower(h)
			if prev, dup := seenHost[lh]; dup {
				s.Add(&es, item, "host %q is already served by %s; each host belongs to one site", h, prev)
			}
			seenHost[lh] = s.Path
		}
		s.Certificate.validate(&es)
		if s.TLS != nil {
			s.TLS.validate(&es)
		}
		if len(s.Routes) == 0 {
			s.Add(&es, "routes", "a site needs at least one route, e.g. routes: [{path: /, upstreams: [http://127.0.0.1:9000]}]")
		}
		seenPath := map[string]bool{}
		for k := range s.Routes {
			r := &s.Routes[k]
			if !strings.HasPrefix(r.Path, "/") {
				r.Add(&es, "path", "path %q must start with /", r.Path)
			} else if seenPath[r.Path] {
				r.Add(&es, "path", "path %q is already routed in this site", r.Path)
			}
			seenPath[r.Path] = true
			switch {
			case r.Handler != "" && len(r.Upstreams) > 0:
				r.Add(&es, "handler", "a route has either upstreams or a handler, not both")
			case r.Handler != "" && r.Handler != "whoami":
				r.Add(&es, "handler", "unknown handler %q; expected whoami", r.Handler)
			case r.Handler == "" && len(r.Upstreams) == 0:
				r.Add(&es, "upstreams", "a route needs at least one upstream, e.g. upstreams: [http://127.0.0.1:9000], or handler: whoami")
			}
			r.validate(&es)
			for u, up := range r.Upstreams {
				if err := CheckUpstream(up); err != nil {
					r.Add(&es, fmt.Sprintf("upstreams[%d]", u), "%v", err)
				}
			}
			switch r.Balance {
			case "", "round_robin", "least_conn":
			default:
				r.Add(&es, "balance", "unknown balance %q; expected round_robin or least_conn", r.Balance)
			}
		}
		s.validateClientAuth(&es, filepath.Dir(f.name))
	}
	return es
}

func (t *TLS) validate(es *Errors) {
	if _, err := tlspolicy.ProfileByName(t.Profile); err != nil {
		t.Add(es, "profile", "unknown TLS profile %q; expected %s", t.Profile, strings.Join(tlspolicy.ProfileNames(), ", "))
	}
}

func (c *Certificate) validate(es *Errors) {
	switch c.Source {
	case "", "local":
		if c.Cert != "" || c.Key != "" || c.CA != "" {
			c.Add(es, "source", "cert, key and ca are only read with source: files")
		}
		if c.ACME != nil {
			c.Add(es, "acme", "acme settings are only read with source: acme")
		}
	case "files":
		if c.OnFirstHandshake {
			c.Add(es, "on_first_handshake", "on_first_handshake applies to source local only")
		}
		if c.ACME != nil {
			c.Add(es, "acme", "acme settings are only read with source: acme")
		}
		if c.Cert == "" {
			c.Add(es, "cert", "source files needs cert: PATH to a PEM certificate chain")
		}
		if c.Key == "" {
			c.Add(es, "key", "source files needs key: PATH to the PEM private key")
		}
	case "acme":
		if c.OnFirstHandshake {
			c.Add(es, "on_first_handshake", "on_first_handshake applies to source local only")
		}
		if c.Cert != "" || c.Key != "" || c.CA != "" {
			c.Add(es, "source", "cert, key and ca are only read with source: files")
		}
		if c.ACME == nil || c.ACME.Directory == "" {
			c.Add(es, "acme", "source acme needs acme: {directory: URL}, e.g. https://acme-v02.api.letsencrypt.org/directory")
		} else {
			c.ACME.validate(es)
		}
	default:
		c.Add(es, "source", "unknown certificate source %q; expected local, files or acme", c.Source)
	}
}

// checkListen validates a host:port listen address; offOK allows "off".
func checkListen(es *Errors, f Fields, key, addr string, offOK bool) {
	if addr == "" || (offOK && addr == "off") {
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		f.Add(es, key, "invalid address %q; expected HOST:PORT such as :8443 or 127.0.0.1:8443", addr)
		return
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		f.Add(es, key, "listen host %q must be an IP address or localhost", host)
	}
	if p, err := parsePort(port); err != nil || p == 0 {
		f.Add(es, key, "invalid port %q; expected 1-65535", port)
	}
}

func parsePort(s string) (int, error) {
	var p int
	if _, err := fmt.Sscanf(s, "%d", &p); err != nil || fmt.Sprint(p) != s || p < 0 || p > 65535 {
		return 0, fmt.Errorf("invalid port")
	}
	return p, nil
}

// checkHost validates a site host name: a DNS name, a *. wildcard, or an IP.
func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("invalid host name %q", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("invalid host name %q; expected a DNS name such as api.example.com", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("invalid host name %q: %q is not allowed in a DNS name", h, c)
			}
		}
	}
	return nil
}

// CheckUpstream validates an upstream address: http:// or https:// URL with
// a host, or unix:/path/to.sock.
func CheckUpstream(s string) error {
	if rest, ok := strings.CutPrefix(s, "unix:"); ok {
		if !strings.HasPrefix(rest, "/") {
			return fmt.Errorf("invalid upstream %q; expected unix:/absolute/path.sock", s)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid upstream %q: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("upstream %q has scheme %q; expected http://, https:// or unix:", s, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("upstream %q has no host; expected e.g. http://127.0.0.1:9000", s)
	}
	if u.User != nil {
		return fmt.Errorf("upstream %q carries credentials in the URL; remove them", s)
	}
	return nil
}
