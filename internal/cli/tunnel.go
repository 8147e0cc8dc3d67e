package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/pki"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
	"github.com/tlsgate/tlsgate/internal/tunnel"
)

func init() { register(newTunnelCommand) }

type tunnelFlags struct {
	server, allowRemote, allowAnyVerified, localCA bool

	listen, target, admin, tlsProfile string
	cert, key, sni, alpn              string
	localCAIdentity, clientAuth       string
	cas, pins, clientCAs, localNames  []string
	clientCRLs                        []string
	allow                             map[authz.Kind]*[]string

	drainTimeout, dialTimeout, handshakeTimeout, reloadInterval time.Duration
	idleTimeout                                                 time.Duration
	maxConns                                                    int
}

// Flags that only mean something in one mode; giving them in the other is a
// usage error rather than silently ignored.
var (
	tunnelServerOnly = []string{"client-auth", "client-ca", "client-crl", "allow-uri", "allow-dns", "allow-email", "allow-cn",
		"allow-fingerprint", "allow-spki", "allow-any-verified", "local-ca", "local-ca-name"}
	tunnelClientOnly = []string{"ca", "pin", "sni", "allow-remote", "local-ca-identity"}
)

func newTunnelCommand(g *Globals) *cobra.Command {
	f := &tunnelFlags{allow: map[authz.Kind]*[]string{}}
	cmd := &cobra.Command{
		Use:   "tunnel --listen ADDR --target HOST:PORT",
		Short: "Carry plain TCP over verified TLS: client mode originates TLS, --server terminates it",
		Long: `tunnel gives TLS to clients and services that only speak plain TCP.

Client mode (the default) accepts plaintext on a loopback address and opens a
TLS 1.2+ connection to --target, verifying its certificate (system roots or
--ca, the host name, --pin, a stapled OCSP response). It never falls back to
plaintext: if verification fails the local connection is closed, the reason
logged, and nothing the client sent leaves the machine.

Server mode (--server) terminates TLS on --listen for any TCP protocol and
forwards plaintext to --target; with --client-auth require only clients whose
certificate matches an --allow-* rule pass (see docs/access-control.md).

Metrics are served on --admin (/metrics, /healthz); in server mode the admin
listener also holds the deny-list (/deny), which refuses a client certificate
by serial or public key at once and closes its open connections. SIGTERM stops accepting
and lets open connections finish for up to --drain-timeout. Certificate files
are reloaded when they change, without dropping open connections. A connection
on which no byte moves either way for --idle-timeout (1h) is closed. The
tunnel holds at most --max-conns (10000) connections at once and closes any
beyond that at once, before a TLS handshake or a dial of the target.`,
		Example: `  # Redis clients talk plaintext to 127.0.0.1:6380; the tunnel verifies redis.internal
  tlsgate tunnel --listen 127.0.0.1:6380 --target redis.internal:6379 --ca root.pem

  # ... and presents a client certificate, pinned to one server key
  tlsgate tunnel --listen 127.0.0.1:6380 --target redis.internal:6379 --ca root.pem \
      --cert client/cert.pem --key client/key.pem --pin sha256/BASE64

  # Server side: TLS on :6379 for the local Redis, only for the billing service
  tlsgate tunnel --server --listen :6379 --target 127.0.0.1:6380 \
      --cert server/cert.pem --key server/key.pem \
      --client-auth require --client-ca root.pem --allow-uri spiffe://corp.test/billing`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return runTunnel(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.server, "server", false, "server mode: terminate TLS on --listen and forward plaintext to --target")
	fl.StringVar(&f.listen, "listen", "", "address to accept connections on, e.g. 127.0.0.1:9000 (client) or :9443 (server)")
	fl.StringVar(&f.target, "target", "", "HOST:PORT to forward to")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:2020", "admin listener for /metrics and /healthz, or off")
	fl.StringVar(&f.tlsProfile, "tls-profile", tlspolicy.DefaultProfileName, "TLS profile: modern (TLS 1.3 only) or intermediate (TLS 1.3 and 1.2, forward secrecy and AEAD only)")
	fl.StringVar(&f.cert, "cert", "", "certificate chain PEM file: the client certificate (client mode) or the served one (server mode)")
	fl.StringVar(&f.key, "key", "", "private key PEM file for --cert")
	fl.StringVar(&f.alpn, "alpn", "", "application protocols to offer or accept, comma-separated, e.g. h2,http/1.1")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", tunnel.DefaultDrainTimeout, "on SIGTERM, how long open connections may take to finish")
	fl.DurationVar(&f.dialTimeout, "dial-timeout", tunnel.DefaultDialTimeout, "timeout for connecting to --target")
	fl.DurationVar(&f.handshakeTimeout, "handshake-timeout", tunnel.DefaultHandshakeTimeout, "timeout for a TLS handshake")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", tunnel.DefaultIdleTimeout, "close a connection on which no byte has moved in either direction for this long; 0 never closes it")
	fl.IntVar(&f.maxConns, "max-conns", tunnel.DefaultMaxConns, "connections held at once; one beyond is closed at once, before any TLS or dial; 0 sets no limit")
	fl.DurationVar(&f.reloadInterval, "reload-interval", certsource.DefaultPollInterval, "how often certificate files are checked for changes")
	// Client mode.
	fl.StringArrayVar(&f.cas, "ca", nil, "client mode: PEM file of the CAs that verify the target, instead of the system roots (repeatable)")
	fl.StringArrayVar(&f.pins, "pin", nil, "client mode: require this public key in the target's verified chain, as sha256/BASE64 (repeatable: any matches)")
	fl.StringVar(&f.sni, "sni", "", "client mode: server name to send and verify (default: the host of --target)")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "client mode: allow a --listen address that is not loopback (the listener accepts plaintext)")
	fl.StringVar(&f.localCAIdentity, "local-ca-identity", "", "client mode: present a client certificate for this SPIFFE ID, email or DNS name, issued and renewed by the local CA")
	// Server mode.
	fl.BoolVar(&f.localCA, "local-ca", false, "server mode: serve a certificate issued and renewed by the local CA instead of --cert/--key")
	fl.StringArrayVar(&f.localNames, "local-ca-name", nil, "server mode with --local-ca: name (DNS or IP) to put in the certificate (repeatable; default localhost, 127.0.0.1, ::1 and the host name)")
	fl.StringVar(&f.clientAuth, "client-auth", "off", "server mode: client certificates: require, optional or off")
	fl.StringArrayVar(&f.clientCAs, "client-ca", nil, "server mode: PEM file of the CAs that issue client certificates (repeatable; default the local CA)")
	fl.StringArrayVar(&f.clientCRLs, "client-crl", nil, "server mode: CRL file (PEM or DER) of the client CAs, re-read when it changes; clients whose issuer has no current CRL are refused (repeatable)")
	addAllowFlags(fl, f.allow, &f.allowAnyVerified, "server mode: ")
	return cmd
}

func runTunnel(cmd *cobra.Command, g *Globals, f *tunnelFlags) error {
	if err := f.check(cmd); err != nil {
		return UsageError(err)
	}
	profile, err := tunnel.Profile(f.tlsProfile)
	if err != nil {
		return UsageError(fmt.Errorf("--tls-profile: %w", err))
	}
	// The CA closes after the signal context is gone, so renewals never
	// run against a closed CA.
	ca := &lazyCA{g: g}
	defer ca.close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	metrics := tunnel.NewMetrics(nil)
	opts := tunnel.Options{
		Target: f.target, DrainTimeout: f.drainTimeout, DialTimeout: f.dialTimeout,
		HandshakeTimeout: f.handshakeTimeout, IdleTimeout: f.idleTimeout, Logger: g.Logger, Metrics: metrics,
	}
	if f.idleTimeout == 0 {
		opts.IdleTimeout = tunnel.NoIdleTimeout
	}
	opts.MaxConns = f.maxConns
	if f.maxConns == 0 {
		opts.MaxConns = tunnel.NoMaxConns
	}
	var alpn []string
	if f.alpn != "" {
		alpn = strings.Split(f.alpn, ",")
	}
	var serve func(context.Context, net.Listener) error
	var deny *authz.DenyList
	if f.server {
		deny = authz.NewDenyList()
		s, err := f.newServer(ctx, g, opts, profile, alpn, ca, deny)
		if err != nil {
			return err
		}
		serve = s.Serve
	} else {
		c, err := f.newClient(ctx, g, opts, profile, alpn, ca)
		if err != nil {
			return err
		}
		serve = c.Serve
	}

	ln, err := tunnel.Listen(ctx, f.listen)
	if err != nil {
		return err
	}
	if f.admin != "off" {
		aln, err := net.Listen("tcp", f.admin)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--admin %s: %w; pick another address or pass --admin off", f.admin, err)
		}
		go func() {
			if err := metrics.ServeAdmin(ctx, aln, deny, g.Logger); err != nil {
				g.Logger.Error("admin listener failed", "error", err)
			}
		}()
	}
	err = serve(ctx, ln)
	g.Logger.Info("tunnel stopped")
	return err
}

// check rejects flags that contradict each other before anything starts.
func (f *tunnelFlags) check(cmd *cobra.Command) error {
	if f.listen == "" || f.target == "" {
		return errors.New("--listen and --target are required, e.g. --listen 127.0.0.1:9000 --target api.example.com:443")
	}
	wrong, mode := tunnelClientOnly, "client mode (without --server)"
	if !f.server {
		wrong, mode = tunnelServerOnly, "--server mode"
	}
	for _, name := range wrong {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s works only in %s", name, mode)
		}
	}
	if f.idleTimeout < 0 {
		return fmt.Errorf("--idle-timeout %v: want a duration of 0 or more, e.g. 1h, or 0 to never close an idle connection", f.idleTimeout)
	}
	if f.maxConns < 0 {
		return fmt.Errorf("--max-conns %d: want a number of connections, e.g. %d, or 0 for no limit", f.maxConns, tunnel.DefaultMaxConns)
	}
	if (f.cert == "") != (f.key == "") {
		return errors.New("--cert and --key go together: give both files")
	}
	if f.admin != "off" {
		if _, _, err := net.SplitHostPort(f.admin); err != nil {
			return fmt.Errorf("--admin %q: want HOST:PORT or off", f.admin)
		}
	}
	if f.server {
		switch {
		case f.localCA && f.cert != "":
			return errors.New("--local-ca and --cert both give the served certificate: choose one")
		case !f.localCA && f.cert == "":
			return errors.New("--server needs a certificate: pass --cert FILE --key FILE, or --local-ca")
		case len(f.localNames) > 0 && !f.localCA:
			return errors.New("--local-ca-name needs --local-ca")
		}
		return nil
	}
	if f.localCAIdentity != "" && f.cert != "" {
		return errors.New("--local-ca-identity and --cert both give the client certificate: choose one")
	}
	return tunnel.CheckClientListen(f.listen, f.allowRemote)
}

func (f *tunnelFlags) newClient(ctx context.Context, g *Globals, opts tunnel.Options, profile tlspolicy.Profile, alpn []string, ca *lazyCA) (*tunnel.Client, error) {
	cfg := tunnel.ClientConfig{Options: opts, ServerName: f.sni, Pins: f.pins, ALPN: alpn, BaseTLS: profile.TLSConfig()}
	if len(f.cas) > 0 {
		pool, err := readCertPool("--ca", f.cas)
		if err != nil {
			return nil, UsageError(err)
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.cert != "":
		files, err := tunnel.NewClientCertFiles(f.cert, f.key, f.reloadInterval, g.Logger, opts.Metrics.CertificateReloaded)
		if err != nil {
			return nil, UsageError(err)
		}
		go files.Run(ctx)
		cfg.ClientCertificate = files.Certificate
	case f.localCAIdentity != "":
		c, err := ca.open(ctx)
		if err != nil {
			return nil, err
		}
		src, err := tunnel.LocalClientIdentity(ctx, c, f.localCAIdentity, g.Logger)
		if err != nil {
			return nil, UsageError(err)
		}
		go src.Run(ctx)
		cfg.ClientCertificate = func() (*tls.Certificate, error) { return src.GetCertificate(nil) }
	}
	c, err := tunnel.NewClient(cfg)
	if err != nil {
		return nil, UsageError(err)
	}
	return c, nil
}

func (f *tunnelFlags) newServer(ctx context.Context, g *Globals, opts tunnel.Options, profile tlspolicy.Profile, alpn []string, ca *lazyCA, deny *authz.DenyList) (*tunnel.Server, error) {
	auth, err := tunnel.ParseClientAuth(f.clientAuth)
	if err != nil {
		return nil, UsageError(fmt.Errorf("--client-auth: %w", err))
	}
	policy, err := f.policy()
	if err != nil {
		return nil, UsageError(err)
	}
	// Refuse contradictory flags before the local CA issues anything.
	if err := tunnel.CheckClientAuth(auth, policy); err != nil {
		return nil, UsageError(err)
	}
	cfg := tunnel.ServerConfig{Options: opts, ClientAuth: auth, Policy: policy, DenyList: deny, ALPN: alpn, BaseTLS: profile.TLSConfig()}
	if auth != tunnel.ClientAuthOff {
		if len(f.clientCAs) > 0 {
			if cfg.ClientCAs, err = readCertPool("--client-ca", f.clientCAs); err != nil {
				return nil, UsageError(err)
			}
		} else {
			c, err := ca.open(ctx)
			if err != nil {
				return nil, err
			}
			cfg.ClientCAs = c.RootPool()
			cfg.Revocation = tunnel.LocalCARevocation(c)
			g.Logger.Info("trusting client certificates from the local CA, checking each against its revocations", "root_sha256", c.RootFingerprint())
		}
	} else if len(f.clientCAs) > 0 || len(f.clientCRLs) > 0 {
		return nil, UsageError(errors.New("--client-ca and --client-crl need --client-auth require or optional"))
	}
	if len(f.clientCRLs) > 0 {
		crls, err := tunnel.NewCRLFiles(f.clientCRLs, f.reloadInterval, g.Logger)
		if err != nil {
			return nil, UsageError(fmt.Errorf("--client-crl: %w", err))
		}
		go crls.Run(ctx)
		if cfg.Revocation != nil {
			cfg.Revocation = tunnel.AllRevocationCheckers{cfg.Revocation, crls}
		} else {
			cfg.Revocation = crls
		}
	}
	var src certsource.Source
	if f.localCA {
		c, err := ca.open(ctx)
		if err != nil {
			return nil, err
		}
		names := f.localNames
		if len(names) == 0 {
			names = tunnel.LocalServerNames()
		}
		l, err := tunnel.LocalServerCertificate(ctx, c, names, g.Logger)
		if err != nil {
			return nil, err
		}
		go l.Run(ctx)
		src = l
	} else {
		files, err := certsource.NewFiles(f.cert, f.key, certsource.FilesOptions{
			PollInterval: f.reloadInterval, Logger: g.Logger, OnReload: opts.Metrics.CertificateReloaded,
		})
		if err != nil {
			return nil, UsageError(fmt.Errorf("--cert/--key: %w", err))
		}
		go files.Run(ctx)
		src = files
	}
	for _, leaf := range src.Leaves() {
		opts.Metrics.CertificateExpiry(authz.IdentityFromCertificate(leaf).String(), leaf.NotAfter)
	}
	cfg.GetCertificate = src.GetCertificate
	s, err := tunnel.NewServer(cfg)
	if err != nil {
		return nil, UsageError(err)
	}
	return s, nil
}

// policy builds the allow rules from the --allow-* flags, naming the flag of
// any bad one.
func (f *tunnelFlags) policy() (*authz.Policy, error) {
	rules, err := allowRules(f.allow, f.allowAnyVerified)
	if err != nil {
		return nil, err
	}
	return authz.NewPolicy(rules...), nil
}

func readCertPool(flag string, files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s %s: no PEM certificate in the file; give the CA certificate, e.g. from tlsgate ca export-root", flag, name)
		}
	}
	return pool, nil
}

// lazyCA opens the local CA in the data directory the first time a flag
// needs it, creating it if missing (as tlsgate serve does).
type lazyCA struct {
	g  *Globals
	ca *pki.CA
}

func (l *lazyCA) open(ctx context.Context) (*pki.CA, error) {
	if l.ca != nil {
		return l.ca, nil
	}
	ca, err := openLocalCA(ctx, l.g, "")
	if err != nil {
		return nil, err
	}
	l.ca = ca
	return ca, nil
}

func (l *lazyCA) close() {
	if l.ca != nil {
		l.ca.Close()
	}
}
