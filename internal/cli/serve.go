package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/config"
	"github.com/tlsgate/tlsgate/internal/gateway"
	"github.com/tlsgate/tlsgate/internal/pki"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
	"github.com/tlsgate/tlsgate/internal/tunnel"
)

func init() { register(newServeCommand) }

type serveFlags struct {
	config     string
	from       []string
	to         []string
	cert, key  string
	listen     string
	httpListen string
	admin      string
	accessLog  string
	logFormat  string
	profile    string

	clientAuth       string
	clientCAs        []string
	clientCRLs       []string
	allow            map[authz.Kind]*[]string
	allowAnyVerified bool
}

// serveClientAuthFlags are the flag-form client authentication settings,
// named as tlsgate tunnel --server names them.
var serveClientAuthFlags = []string{"client-auth", "client-ca", "client-crl", "allow-uri", "allow-dns", "allow-email", "allow-cn",
	"allow-fingerprint", "allow-spki", "allow-any-verified"}

func newServeCommand(g *Globals) *cobra.Command {
	f := &serveFlags{allow: map[authz.Kind]*[]string{}}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve APIs over HTTPS only: certificates, redirect, HSTS, reverse proxy",
		Long: `serve terminates TLS and proxies to your API over plain HTTP (or HTTPS, or a
unix socket). Plain HTTP is redirected to HTTPS, never served, and every
HTTPS response carries HSTS.

With no arguments it creates the local CA if needed, issues a certificate for
localhost, 127.0.0.1, ::1 and this host's name, serves a built-in whoami API
on :8443, redirects :8080, and prints a curl command that works.

  tlsgate serve
  tlsgate serve --from api.example.com --to http://127.0.0.1:9000
  tlsgate serve --from api.example.com --to http://127.0.0.1:9000 --cert api.pem --key api.key
  tlsgate serve --config tlsgate.yaml

Mutual TLS: with --client-auth require only clients whose certificate the
client CA (default: the local CA) issued and an --allow-* rule matches pass;
others get 403 naming the rule. The verified identity reaches the upstream in
X-Client-Cert-* headers (see docs/access-control.md).

  tlsgate ca issue --profile client --uri spiffe://corp.test/billing --out billing
  tlsgate serve --from localhost --to http://127.0.0.1:9000 \
      --client-auth require --allow-uri spiffe://corp.test/billing

Metrics (Prometheus), /healthz and /readyz are served on the admin listener
(127.0.0.1:2019), with the deny-list at /deny (POST {"entry": "serial:HEX"}
refuses a client certificate and closes its connections). SIGHUP or a change of the configuration file reloads it
after validating; SIGTERM drains in-flight requests and stops.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "configuration file (YAML, see docs/config.md)")
	fl.StringSliceVar(&f.from, "from", nil, "host name(s) to serve, e.g. api.example.com (repeatable)")
	fl.StringSliceVar(&f.to, "to", nil, "upstream URL: http://HOST:PORT, https://HOST:PORT or unix:/PATH (repeatable: balanced)")
	fl.StringVar(&f.cert, "cert", "", "certificate chain PEM file for --from (default: issue from the local CA)")
	fl.StringVar(&f.key, "key", "", "private key PEM file for --cert")
	fl.StringVar(&f.listen, "listen", ":8443", "HTTPS listen address")
	fl.StringVar(&f.httpListen, "http-listen", ":8080", "plain HTTP listener that redirects to HTTPS, or off")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:2019", "admin listener for metrics and health, or off")
	fl.StringVar(&f.accessLog, "access-log", "stdout", "access log: stdout, stderr, off or a file")
	fl.StringVar(&f.logFormat, "access-log-format", "json", "access log format: json or common")
	fl.StringVar(&f.profile, "tls-profile", "", "TLS profile: modern (TLS 1.3 only), intermediate (default), or old (legacy clients; warned about)")
	fl.StringVar(&f.clientAuth, "client-auth", "off", "client certificates: require, optional (verified and authorized when sent) or off")
	fl.StringArrayVar(&f.clientCAs, "client-ca", nil, "PEM file of the CAs that issue client certificates (repeatable; default the local CA, whose revocations apply within a second)")
	fl.StringArrayVar(&f.clientCRLs, "client-crl", nil, "CRL file (PEM or DER) of the client CAs, re-read every minute; clients whose status is unknown are refused (repeatable)")
	addAllowFlags(fl, f.allow, &f.allowAnyVerified, "")
	return cmd
}

// serveFile builds the configuration from the flags, or loads --config and
// applies the listener flags the user set on top.
func (f *serveFlags) serveFile(cmd *cobra.Command) (*config.File, string, error) {
	changed := cmd.Flags().Changed
	if f.config != "" {
		for _, name := range append([]string{"from", "to", "cert", "key", "tls-profile"}, serveClientAuthFlags...) {
			if changed(name) {
				return nil, "", UsageError(fmt.Errorf("--%s cannot be combined with --config; set it in %s", name, f.config))
			}
		}
		file, err := config.Load(f.config)
		if err != nil {
			return nil, "", UsageError(err)
		}
		if changed("listen") {
			file.Listen = f.listen
		}
		if changed("http-listen") {
			file.HTTPListen = f.httpListen
		}
		if changed("admin") {
			file.Admin = f.admin
		}
		if changed("access-log") {
			file.AccessLog.Output = f.accessLog
		}
		if changed("access-log-format") {
			file.AccessLog.Format = f.logFormat
		}
		return file, filepath.Dir(f.config), nil
	}
	if len(f.from) > 0 && len(f.to) == 0 || len(f.to) > 0 && len(f.from) == 0 {
		return nil, "", UsageError(errors.New("--from and --to go together: tlsgate serve --from api.example.com --to http://127.0.0.1:9000"))
	}
	if (f.cert == "") != (f.key == "") {
		return nil, "", UsageError(errors.New("--cert and --key go together"))
	}
	if f.cert != "" && len(f.from) == 0 {
		return nil, "", UsageError(errors.New("--cert needs --from and --to: the certificate is for the host you serve"))
	}
	file := &config.File{
		Listen:     f.listen,
		HTTPListen: f.httpListen,
		Admin:      f.admin,
		AccessLog:  config.AccessLog{Output: f.accessLog, Format: f.logFormat},
		TLS:        config.TLS{Profile: f.profile},
	}
	site := config.Site{Default: true}
	if len(f.from) == 0 {
		// Zero-config: the names a local client uses, served by whoami.
		req := pki.LocalServerRequest()
		site.Hosts = append(site.Hosts, req.DNS...)
		for _, ip := range req.IPs {
			site.Hosts = append(site.Hosts, ip.String())
		}
		site.Routes = []config.Route{{Path: "/", Handler: "whoami"}}
	} else {
		for _, h := range f.from {
			if err := config.CheckHost(h); err != nil {
				return nil, "", UsageError(fmt.Errorf("--from: %w", err))
			}
		}
		for _, u := range f.to {
			if err := config.CheckUpstream(u); err != nil {
				return nil, "", UsageError(fmt.Errorf("--to: %w", err))
			}
		}
		site.Hosts = f.from
		site.Routes = []config.Route{{Path: "/", Upstreams: f.to}}
	}
	if f.cert != "" {
		site.Certificate = config.Certificate{Source: "files", Cert: f.cert, Key: f.key}
	}
	if err := f.clientAuthSite(&site); err != nil {
		return nil, "", UsageError(err)
	}
	file.Sites = []config.Site{site}
	if err := file.Validate().Err(); err != nil {
		return nil, "", UsageError(fmt.Errorf("the flags do not make a valid configuration:\n%w", err))
	}
	cwd, _ := os.Getwd()
	return file, cwd, nil
}

// clientAuthSite applies the client authentication flags to the site, with
// errors that name the flags.
func (f *serveFlags) clientAuthSite(site *config.Site) error {
	switch f.clientAuth {
	case "off", "":
		for _, name := range serveClientAuthFlags[1:] {
			if name == "allow-any-verified" && f.allowAnyVerified || name != "allow-any-verified" && f.flagValues(name) > 0 {
				return fmt.Errorf("--%s needs --client-auth require or optional", name)
			}
		}
		return nil
	case "require", "optional":
	default:
		return fmt.Errorf("--client-auth %q: expected require, optional or off", f.clientAuth)
	}
	rules, err := allowRules(f.allow, f.allowAnyVerified)
	if err != nil {
		return err
	}
	site.Authz = append(site.Authz, rules...)
	if len(site.Authz) == 0 {
		return fmt.Errorf("--client-auth %s without an allow rule would refuse every client: add --allow-uri, --allow-dns, --allow-email, --allow-cn, --allow-fingerprint or --allow-spki, or --allow-any-verified to accept every client certificate the client CA issued", f.clientAuth)
	}
	site.ClientAuth = f.clientAuth
	for _, p := range f.clientCAs {
		if _, err := config.LoadPool(p); err != nil {
			return fmt.Errorf("--client-ca %s: %w; give the PEM certificate of the CA that issues client certificates", p, err)
		}
	}
	site.ClientCA = f.clientCAs
	if len(f.clientCRLs) > 0 {
		site.Revocation = &config.Revocation{CRL: f.clientCRLs}
		if len(f.clientCAs) == 0 {
			local := true
			site.Revocation.Local = &local
		}
	}
	return nil
}

func (f *serveFlags) flagValues(name string) int {
	switch name {
	case "client-ca":
		return len(f.clientCAs)
	case "client-crl":
		return len(f.clientCRLs)
	}
	if k, ok := strings.CutPrefix(name, "allow-"); ok {
		if v := f.allow[authz.Kind(k)]; v != nil {
			return len(*v)
		}
	}
	return 0
}

func runServe(cmd *cobra.Command, g *Globals, f *serveFlags) error {
	// Stop on SIGINT/SIGTERM whoever runs us, draining in-flight requests.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught from the start, so an early one cannot kill us.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	file, dir, err := f.serveFile(cmd)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	srv := &server{g: g, dir: dir, reg: reg, certReload: gateway.CertReloadCounter(reg), locals: map[string]*certsource.Local{},
		caPublicURL: publicURLOf(file.HTTPListen)}
	defer srv.closeCA()
	cfg, closers, err := srv.build(ctx, file)
	if err != nil {
		return err
	}
	gw, err := gateway.New(cfg, gateway.Options{Logger: g.Logger, Registry: reg})
	if err != nil {
		return UsageError(err)
	}
	if err := gw.Start(ctx); err != nil {
		return err
	}
	srv.gw = gw
	srv.swapRunners(ctx, cfg, closers)
	srv.announce(file, f)

	var changed <-chan struct{}
	if f.config != "" {
		changed = watchFile(ctx, f.config, 2*time.Second)
	}
	errc := make(chan error, 1)
	go func() { errc <- gw.Wait(ctx) }()
	for {
		select {
		case <-hup:
			g.Logger.Info("SIGHUP: reloading the configuration")
			srv.reload(ctx, f, cmd)
		case <-changed:
			g.Logger.Info("configuration file changed: reloading", "file", f.config)
			srv.reload(ctx, f, cmd)
		case err := <-errc:
			if err != nil {
				srv.shutdown(gw)
				return err
			}
			return srv.shutdown(gw)
		}
	}
}

// server holds what lives across reloads.
type server struct {
	g          *Globals
	dir        string
	reg        *prometheus.Registry
	certReload func(string, error)
	gw         *gateway.Gateway

	caOnce sync.Once
	ca     *pki.CA
	caErr  error
	locals map[string]*certsource.Local // by host list, reused across reloads

	stopRunners context.CancelFunc
	closers     []io.Closer

	// caPublicURL is where the redirect listener publishes a local CA that
	// serve creates (CRLs, OCSP, issuer certificates); "" without one.
	caPublicURL string
	pub         *pki.Publisher
}

func (s *server) build(ctx context.Context, file *config.File) (*gateway.Config, []io.Closer, error) {
	env := config.ServeEnv{
		Dir:          s.dir,
		Logger:       s.g.Logger,
		Stdout:       s.g.Stdout,
		Stderr:       s.g.Stderr,
		OnCertReload: s.certReload,
		LocalCertificates: func(hosts []string, lazy bool) (certsource.Source, error) {
			return s.localSource(ctx, hosts, lazy)
		},
		SiteTLS: s.siteTLS,
		LocalClientCA: func() (*config.LocalClientCA, error) {
			ca, err := s.openCA(ctx)
			if err != nil {
				return nil, err
			}
			return &config.LocalClientCA{Roots: ca.RootPool(), Revocation: tunnel.LocalCARevocation(ca)}, nil
		},
	}
	if home, err := s.g.Home(); err == nil {
		env.ACMEDir = filepath.Join(home, "acme")
	}
	cfg, closers, err := file.Gateway(env)
	if err != nil {
		return nil, nil, UsageError(err)
	}
	if s.ca != nil && s.caPublicURL != "" && s.ca.Settings().PublicURL == s.caPublicURL {
		if s.pub == nil {
			if s.pub, err = s.ca.NewPublisher(ctx, s.g.Logger); err != nil {
				for _, c := range closers {
					c.Close()
				}
				return nil, nil, fmt.Errorf("publishing the local CA's CRLs and OCSP on %s: %w", s.caPublicURL, err)
			}
		}
		cfg.CAPublisher = s.pub.Handler()
	}
	return cfg, closers, nil
}

// publicURLOf is the URL under which the redirect listener at addr
// publishes the local CA, for certificates to name in their CRL
// distribution point and OCSP responder; "" when there is no listener.
func publicURLOf(addr string) string {
	switch addr {
	case "off":
		return ""
	case "":
		addr = ":8080"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return ""
	}
	return "http://localhost:" + port
}

// localSource returns the certificate source backed by the local CA for
// hosts, creating the CA on first use.
func (s *server) localSource(ctx context.Context, hosts []string, lazy bool) (certsource.Source, error) {
	key := fmt.Sprint(hosts, lazy)
	if l, ok := s.locals[key]; ok {
		return l, nil
	}
	ca, err := s.openCA(ctx)
	if err != nil {
		return nil, err
	}
	l, err := certsource.NewLocal(ctx, ca.IssueServerCertificate, hosts, certsource.LocalOptions{Logger: s.g.Logger, Lazy: lazy})
	if err != nil {
		return nil, err
	}
	s.locals[key] = l
	return l, nil
}

func (s *server) openCA(ctx context.Context) (*pki.CA, error) {
	s.caOnce.Do(func() {
		// A CA created here is published by the redirect listener, so
		// that its certificates name where their revocation status is.
		s.ca, s.caErr = openLocalCA(ctx, s.g, s.caPublicURL)
	})
	return s.ca, s.caErr
}

func (s *server) closeCA() {
	if s.ca != nil {
		s.ca.Close()
	}
}

// swapRunners starts the background work (watching files, renewing) of the
// new configuration's certificate sources and stops the previous one's.
func (s *server) swapRunners(ctx context.Context, cfg *gateway.Config, closers []io.Closer) {
	if s.stopRunners != nil {
		s.stopRunners()
	}
	for _, c := range s.closers {
		c.Close()
	}
	s.closers = closers
	rctx, cancel := context.WithCancel(ctx)
	s.stopRunners = cancel
	for _, site := range cfg.Sites {
		if r, ok := site.Certs.(certsource.Runner); ok {
			go r.Run(rctx)
		}
	}
}

func (s *server) reload(ctx context.Context, f *serveFlags, cmd *cobra.Command) {
	fail := func(err error) {
		s.gw.CountReloadFailure()
		s.g.Logger.Error("reload refused; still serving the previous configuration", "error", err.Error())
	}
	if f.config == "" {
		s.g.Logger.Info("nothing to reload: serve runs from flags, not a configuration file")
		return
	}
	file, _, err := f.serveFile(cmd)
	if err != nil {
		fail(err)
		return
	}
	cfg, closers, err := s.build(ctx, file)
	if err != nil {
		fail(err)
		return
	}
	if err := s.gw.Reload(cfg); err != nil {
		for _, c := range closers {
			c.Close()
		}
		fail(err)
		return
	}
	s.swapRunners(ctx, cfg, closers)
	s.g.Logger.Info("configuration reloaded", "file", f.config)
}

func (s *server) shutdown(gw *gateway.Gateway) error {
	s.g.Logger.Info("shutting down: draining in-flight requests", "timeout", gw.ShutdownTimeout().String())
	ctx, cancel := context.WithTimeout(context.Background(), gw.ShutdownTimeout())
	defer cancel()
	err := gw.Shutdown(ctx)
	if s.stopRunners != nil {
		s.stopRunners()
	}
	for _, c := range s.closers {
		c.Close()
	}
	return err
}

// announce prints where the gateway listens and, for the local CA, a curl
// command that works as printed.
func (s *server) announce(file *config.File, f *serveFlags) {
	https := s.gw.Addr(gateway.ListenerHTTPS)
	out := s.g.Stderr
	fmt.Fprintf(out, "tlsgate serve: HTTPS on %s", https)
	if a := s.gw.Addr(gateway.ListenerHTTP); a != nil {
		fmt.Fprintf(out, ", redirect on %s", a)
	}
	if a := s.gw.Addr(gateway.ListenerAdmin); a != nil {
		fmt.Fprintf(out, ", metrics on http://%s/metrics", a)
	}
	fmt.Fprintln(out)
	if cmd := curlCommand(file, s.ca, s.g, https); cmd != "" {
		fmt.Fprintln(s.g.Stdout, cmd)
	}
}

// curlCommand is a command that reaches the first site served with a
// certificate from the local CA, trusting that CA; "" when there is none.
func curlCommand(file *config.File, ca *pki.CA, g *Globals, https net.Addr) string {
	if ca == nil || https == nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(https.String())
	host := ""
	for _, site := range file.Sites {
		if src := site.Certificate.Source; src != "" && src != "local" {
			continue
		}
		for _, h := range site.Hosts {
			if h == "localhost" {
				host = h
				break
			}
			if host == "" && !strings.HasPrefix(h, "*.") {
				host = h
			}
		}
		break
	}
	if host == "" {
		return ""
	}
	home, err := g.Home()
	if err != nil {
		return ""
	}
	root := filepath.Join(pki.Dir(home), "root.pem")
	target := host
	if ip, err := netip.ParseAddr(host); err == nil && ip.Is6() {
		target = "[" + host + "]"
	}
	url := "https://" + target
	if port != "443" {
		url += ":" + port
	}
	url += "/"
	resolve := ""
	if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
		resolve = " --resolve " + host + ":" + port + ":127.0.0.1"
	}
	return fmt.Sprintf("curl --cacert %s%s %s", shellQuote(root), resolve, url)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:=@,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// watchFile signals when the file's size, time or identity changes.
func watchFile(ctx context.Context, path string, every time.Duration) <-chan struct{} {
	ch := make(chan struct{}, 1)
	stamp := func() string {
		fi, err := os.Stat(path)
		if err != nil {
			return "missing"
		}
		return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
	}
	go func() {
		last := stamp()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if now := stamp(); now != last {
					last = now
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// siteTLS is the TLS skeleton of a profile from tlspolicy; a profile weaker
// than the default is allowed only when named, and warned about each time.
func (s *server) siteTLS(profile string) (*tls.Config, error) {
	p, err := tlspolicy.ProfileByName(profile)
	if err != nil {
		return nil, err
	}
	if weak, why := p.WeakerThanDefault(); weak {
		s.g.Logger.Warn("TLS profile weaker than the default is in use", "profile", p.Name, "weaker_by", strings.Join(why, "; "))
	}
	return p.TLSConfig(), nil
}
