package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/gateway"
)

// ServeEnv is what turning a File into a running gateway needs from the
// outside world.
type ServeEnv struct {
	// Dir resolves relative paths in the file (the file's directory).
	Dir string
	// Logger receives certificate reload events.
	Logger *slog.Logger
	// Stdout and Stderr are the access log outputs "stdout" and "stderr".
	Stdout, Stderr io.Writer
	// OnCertReload counts certificate file reloads (may be nil).
	OnCertReload func(certFile string, err error)
	// LocalCertificates returns the source for a site with source local
	// (the built-in CA), issuing at start or, when lazy, on the first
	// handshake; nil makes such sites an error.
	LocalCertificates func(hosts []string, lazy bool) (certsource.Source, error)
	// SiteTLS returns the TLS policy skeleton for a profile name ("" is the
	// default profile); nil leaves the gateway's own minimum.
	SiteTLS func(profile string) (*tls.Config, error)
	// ACMEDir stores ACME accounts and certificates (source acme).
	ACMEDir string
	// LocalClientCA returns the local CA's root and revocation store, for
	// sites that authenticate clients without client_ca; nil makes such
	// sites an error.
	LocalClientCA func() (*LocalClientCA, error)
}

// Gateway turns a validated File into a gateway.Config. Files named in the
// configuration (certificates, CA bundles) are read here, so a missing or
// broken file is reported before anything listens. The returned closers
// release what was opened (an access log file).
func (f *File) Gateway(env ServeEnv) (*gateway.Config, []io.Closer, error) {
	var errs []error
	var closers []io.Closer
	// at reports a problem at a key of the file.
	at := func(fl Fields, key, format string, args ...any) error {
		return positioned(fl, key, format, args...).(Errors).inFile(f.name)
	}
	cfg := &gateway.Config{
		Listen:       orDefault(f.Listen, ":8443"),
		HTTPListen:   offOrDefault(f.HTTPListen, ":8080"),
		AdminListen:  offOrDefault(f.Admin, "127.0.0.1:2019"),
		RedirectPort: f.RedirectPort,
		HSTS: gateway.HSTS{
			IncludeSubDomains: f.HSTS.IncludeSubdomains,
			Preload:           f.HSTS.Preload,
		},
	}
	if f.HSTS.MaxAge != nil {
		cfg.HSTS.MaxAge = *f.HSTS.MaxAge
		if *f.HSTS.MaxAge == 0 {
			cfg.HSTS.Disabled = true
		}
	}
	cfg.Limits = f.Limits.gateway()
	for _, p := range f.TrustedProxies {
		pr, err := ParsePrefix(p)
		if err != nil {
			continue // reported by Validate
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, pr)
	}
	switch f.AccessLog.Output {
	case "", "stdout":
		cfg.AccessLog = env.Stdout
	case "stderr":
		cfg.AccessLog = env.Stderr
	case "off":
	default:
		path := resolvePath(env.Dir, f.AccessLog.Output)
		lf, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			errs = append(errs, at(f.AccessLog.Fields, "output", "cannot open the access log: %v", err))
		} else {
			cfg.AccessLog = lf
			closers = append(closers, lf)
		}
	}
	cfg.AccessLogFormat = f.AccessLog.Format

	for i := range f.Sites {
		s := &f.Sites[i]
		gs := &gateway.Site{Name: s.SiteName(), Hosts: s.Hosts}
		if s.Default {
			cfg.DefaultSite = gs.Name
		}
		profile := f.TLS.Profile
		if s.TLS != nil && s.TLS.Profile != "" {
			profile = s.TLS.Profile
		}
		if env.SiteTLS != nil {
			tc, err := env.SiteTLS(profile)
			if err != nil {
				errs = append(errs, at(s.Fields, "tls", "%v", err))
			}
			gs.TLS = tc
		}
		src, err := s.Certificate.source(env, s.Hosts)
		switch {
		case err != nil:
			errs = append(errs, at(s.Certificate.Fields, certKey(s.Certificate), "%v", err))
		case s.Certificate.Source == "acme":
			// certmagic staples OCSP itself.
			gs.Certs = src
			a := src.(*certsource.ACME)
			prev := cfg.ACMEChallenge
			if prev == nil {
				prev = http.NotFoundHandler()
			}
			cfg.ACMEChallenge = a.HTTPChallengeHandler(prev)
		default:
			// Certificates that name an OCSP responder get its answer stapled.
			gs.Certs = certsource.NewStapled(src, certsource.StapleOptions{Logger: env.Logger})
		}
		for j := range s.Routes {
			r := &s.Routes[j]
			gr, err := r.gateway(env)
			if err != nil {
				if es, ok := err.(Errors); ok {
					err = es.inFile(f.name)
				}
				errs = append(errs, err)
				continue
			}
			gs.Routes = append(gs.Routes, gr)
		}
		if len(gs.Routes) == len(s.Routes) {
			if err := s.clientAuth(env, gs); err != nil {
				if es, ok := err.(Errors); ok {
					err = es.inFile(f.name)
				}
				errs = append(errs, err)
			}
		}
		cfg.Sites = append(cfg.Sites, gs)
	}
	if len(f.Sites) == 1 && cfg.DefaultSite == "" {
		// One site answers everything that reaches the listener, as a
		// single-site server should (clients dialling the IP address).
		cfg.DefaultSite = cfg.Sites[0].Name
	}
	if err := errors.Join(errs...); err != nil {
		for _, c := range closers {
			c.Close()
		}
		return nil, nil, err
	}
	return cfg, closers, nil
}

func certKey(c Certificate) string {
	if c.Source == "files" {
		return "cert"
	}
	return "source"
}

func positioned(fl Fields, key, format string, args ...any) error {
	var es Errors
	fl.Add(&es, key, format, args...)
	return es
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func offOrDefault(v, d string) string {
	switch v {
	case "off":
		return ""
	case "":
		return d
	}
	return v
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func (l Limits) gateway() gateway.Limits {
	var g gateway.Limits
	set := func(dst *time.Duration, src *time.Duration) {
		if src != nil {
			*dst = *src
		}
	}
	set(&g.ReadHeaderTimeout, l.ReadHeaderTimeout)
	set(&g.IdleTimeout, l.IdleTimeout)
	set(&g.UpstreamTimeout, l.UpstreamTimeout)
	set(&g.DialTimeout, l.DialTimeout)
	set(&g.ShutdownTimeout, l.ShutdownTimeout)
	if l.MaxHeaderBytes != nil {
		g.MaxHeaderBytes = *l.MaxHeaderBytes
	}
	if l.MaxBodyBytes != nil {
		g.MaxBodyBytes = *l.MaxBodyBytes
	}
	if l.MaxConnections != nil {
		g.MaxConns = *l.MaxConnections
	}
	if l.RateLimit != nil {
		g.RatePerSecond = l.RateLimit.PerSecond
		g.RateBurst = l.RateLimit.Burst
	}
	return g
}

func (c *Certificate) source(env ServeEnv, hosts []string) (certsource.Source, error) {
	switch c.Source {
	case "files":
		var roots *x509.CertPool
		if c.CA != "" {
			var err error
			if roots, err = LoadPool(resolvePath(env.Dir, c.CA)); err != nil {
				return nil, err
			}
		}
		return certsource.NewFiles(resolvePath(env.Dir, c.Cert), resolvePath(env.Dir, c.Key), certsource.FilesOptions{
			Roots: roots, Logger: env.Logger, OnReload: env.OnCertReload,
		})
	case "acme":
		opts := certsource.ACMEOptions{Directory: c.ACME.Directory, Email: c.ACME.Email, StorageDir: env.ACMEDir, Logger: env.Logger}
		if c.ACME.CARoots != "" {
			pool, err := LoadPool(resolvePath(env.Dir, c.ACME.CARoots))
			if err != nil {
				return nil, err
			}
			opts.Roots = pool
		}
		if len(c.ACME.Challenges) > 0 {
			opts.DisableHTTP01, opts.DisableTLSALPN01 = true, true
			for _, ch := range c.ACME.Challenges {
				switch ch {
				case "http-01":
					opts.DisableHTTP01 = false
				case "tls-alpn-01":
					opts.DisableTLSALPN01 = false
				}
			}
		}
		return certsource.NewACME(hosts, opts)
	case "", "local":
		if env.LocalCertificates == nil {
			return nil, errors.New("the local CA is not available here; use source: files")
		}
		return env.LocalCertificates(hosts, c.OnFirstHandshake)
	}
	return nil, fmt.Errorf("certificate source %q is not available", c.Source)
}

func (r *Route) gateway(env ServeEnv) (*gateway.Route, error) {
	gr := &gateway.Route{
		PathPrefix:  r.Path,
		StripPrefix: r.StripPrefix,
		Builtin:     r.Handler,
		Balance:     r.Balance,
	}
	for _, u := range r.Upstreams {
		gr.Upstreams = append(gr.Upstreams, gateway.Upstream{URL: u})
	}
	if r.Timeout != nil {
		gr.UpstreamTimeout = *r.Timeout
	}
	if h := r.HealthCheck; h != nil {
		gh := &gateway.HealthCheck{Path: h.Path, Unhealthy: h.Unhealthy, Healthy: h.Healthy}
		if h.Interval != nil {
			gh.Interval = *h.Interval
		}
		if h.Timeout != nil {
			gh.Timeout = *h.Timeout
		}
		gr.HealthCheck = gh
	}
	if t := r.UpstreamTLS; t != nil {
		tc := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
		if t.CA != "" {
			pool, err := LoadPool(resolvePath(env.Dir, t.CA))
			if err != nil {
				return nil, positioned(t.Fields, "ca", "%v", err)
			}
			tc.RootCAs = pool
		}
		gr.UpstreamTLS = tc
	}
	return gr, nil
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate; expected -----BEGIN CERTIFICATE-----", path)
	}
	return pool, nil
}
