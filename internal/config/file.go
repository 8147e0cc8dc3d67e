package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// File is the schema of tlsgate.yaml, the configuration of tlsgate serve.
type File struct {
	Fields `yaml:"-"`

	// Listen is the HTTPS listener address.
	Listen string `yaml:"listen"`
	// HTTPListen is the plain-HTTP listener that redirects to HTTPS, or "off".
	HTTPListen string `yaml:"http_listen"`
	// Admin is the metrics and health listener, or "off". It must be loopback
	// unless admin_allow_remote is set.
	Admin string `yaml:"admin"`
	// TLS sets the default TLS policy for every site.
	TLS TLS `yaml:"tls"`
	// HSTS sets Strict-Transport-Security on every HTTPS response.
	HSTS HSTS `yaml:"hsts"`
	// Sites are the host names served, each with its routes.
	Sites []Site `yaml:"sites"`
}

// TLS is a TLS policy choice.
type TLS struct {
	Fields `yaml:"-"`
	// Profile is modern (TLS 1.3 only) or intermediate (TLS 1.3 and 1.2 with
	// ECDHE and AEAD suites). Anything weaker must be chosen explicitly.
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
	Fields      `yaml:"-"`
	Hosts       []string    `yaml:"hosts"`
	Certificate Certificate `yaml:"certificate"`
	TLS         *TLS        `yaml:"tls"`
	Routes      []Route     `yaml:"routes"`
}

// Certificate says where a site's serving certificate comes from.
type Certificate struct {
	Fields `yaml:"-"`
	// Source is local (the built-in CA), files or acme.
	Source string `yaml:"source"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
}

// Route sends requests whose path starts with Path to its upstreams.
type Route struct {
	Fields    `yaml:"-"`
	Path      string   `yaml:"path"`
	Upstreams []string `yaml:"upstreams"`
	// Balance is round_robin (default) or least_conn.
	Balance string `yaml:"balance"`
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
	var f File
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
	for i := range f.Sites {
		s := &f.Sites[i]
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
			if len(r.Upstreams) == 0 {
				r.Add(&es, "upstreams", "a route needs at least one upstream, e.g. upstreams: [http://127.0.0.1:9000]")
			}
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
	}
	return es
}

func (t *TLS) validate(es *Errors) {
	switch t.Profile {
	case "", "modern", "intermediate":
	default:
		t.Add(es, "profile", "unknown TLS profile %q; expected modern or intermediate", t.Profile)
	}
}

func (c *Certificate) validate(es *Errors) {
	switch c.Source {
	case "", "local":
		if c.Cert != "" || c.Key != "" {
			c.Add(es, "source", "cert and key are only read with source: files")
		}
	case "files":
		if c.Cert == "" {
			c.Add(es, "cert", "source files needs cert: PATH to a PEM certificate chain")
		}
		if c.Key == "" {
			c.Add(es, "key", "source files needs key: PATH to the PEM private key")
		}
	case "acme":
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
