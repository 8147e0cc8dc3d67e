package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// SiteName is the site's name, or its first host when unnamed.
func (s *Site) SiteName() string {
	if s.Name != "" {
		return s.Name
	}
	if len(s.Hosts) > 0 {
		return s.Hosts[0]
	}
	return ""
}

func (l *Limits) validate(es *Errors) {
	for key, d := range map[string]*time.Duration{
		"read_header_timeout": l.ReadHeaderTimeout,
		"idle_timeout":        l.IdleTimeout,
		"upstream_timeout":    l.UpstreamTimeout,
		"dial_timeout":        l.DialTimeout,
		"shutdown_timeout":    l.ShutdownTimeout,
	} {
		if d != nil && *d <= 0 {
			l.Add(es, key, "must be more than zero, e.g. 30s")
		}
	}
	if l.MaxHeaderBytes != nil && (*l.MaxHeaderBytes < 1024 || *l.MaxHeaderBytes > 16<<20) {
		l.Add(es, "max_header_bytes", "%d is out of range; expected 1024 to 16777216", *l.MaxHeaderBytes)
	}
	if l.MaxBodyBytes != nil && *l.MaxBodyBytes == 0 {
		l.Add(es, "max_body_bytes", "0 would refuse every body; expected a size in bytes, or -1 for no limit")
	}
	if l.MaxBodyBytes != nil && *l.MaxBodyBytes < -1 {
		l.Add(es, "max_body_bytes", "expected a size in bytes, or -1 for no limit")
	}
	if l.MaxConnections != nil && (*l.MaxConnections == 0 || *l.MaxConnections < -1) {
		l.Add(es, "max_connections", "expected a number of connections, or -1 for no limit")
	}
	if r := l.RateLimit; r != nil {
		if r.PerSecond <= 0 {
			r.Add(es, "per_second", "expected more than 0 requests per second")
		}
		if r.Burst < 0 {
			r.Add(es, "burst", "must not be negative")
		}
	}
}

func (a *AccessLog) validate(es *Errors) {
	switch a.Format {
	case "", "json", "common":
	default:
		a.Add(es, "format", "unknown access log format %q; expected json or common", a.Format)
	}
}

func (r *Route) validate(es *Errors) {
	if r.Timeout != nil && *r.Timeout <= 0 {
		r.Add(es, "timeout", "must be more than zero, e.g. 30s")
	}
	if r.Handler != "" && (r.HealthCheck != nil || r.UpstreamTLS != nil || r.Balance != "") {
		r.Add(es, "handler", "health_check, upstream_tls and balance apply to upstreams, not to a handler")
	}
	if h := r.HealthCheck; h != nil {
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			h.Add(es, "path", "path %q must start with /", h.Path)
		}
		if h.Interval != nil && *h.Interval < 100*time.Millisecond {
			h.Add(es, "interval", "must be at least 100ms")
		}
		if h.Timeout != nil && *h.Timeout <= 0 {
			h.Add(es, "timeout", "must be more than zero, e.g. 2s")
		}
		if h.Unhealthy < 0 {
			h.Add(es, "unhealthy", "must not be negative")
		}
		if h.Healthy < 0 {
			h.Add(es, "healthy", "must not be negative")
		}
	}
	if t := r.UpstreamTLS; t != nil {
		https := false
		for _, u := range r.Upstreams {
			https = https || strings.HasPrefix(u, "https://")
		}
		if !https {
			t.Add(es, "ca", "upstream_tls only applies to https:// upstreams")
		}
	}
}

// ParsePrefix reads a trusted proxy: an IP address or a CIDR range.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid range %q; expected an address or CIDR such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address %q; expected an address or CIDR such as 10.0.0.0/8", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// loopbackAddr reports whether a listen address binds only loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true // reported by checkListen
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckHost validates a host name for a site: a DNS name, a *. wildcard or
// an IP address.
func CheckHost(h string) error { return checkHost(h) }

func (a *ACME) validate(es *Errors) {
	u, err := url.Parse(a.Directory)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		a.Add(es, "directory", "invalid ACME directory %q; expected an https:// URL", a.Directory)
	}
	for i, c := range a.Challenges {
		if c != "http-01" && c != "tls-alpn-01" {
			a.Add(es, fmt.Sprintf("challenges[%d]", i), "unknown challenge %q; expected http-01 or tls-alpn-01", c)
		}
	}
}
