package tunnel

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// ClientConfig configures client mode: plaintext in, verified TLS out.
type ClientConfig struct {
	Options
	// RootCAs verifies the target; nil means the system roots.
	RootCAs *x509.CertPool
	// ServerName is the name the target's certificate must hold and the SNI
	// sent; empty means the host part of Target.
	ServerName string
	// Pins, when set, require one certificate of the verified chain to have
	// one of these public keys. Each is sha256/BASE64 or SHA-256 hex.
	Pins []string
	// ALPN lists the application protocols offered, in order.
	ALPN []string
	// ClientCertificate, when set, returns the certificate to present when
	// the target asks for one. It is called on every handshake, so a source
	// that reloads files serves the newest pair.
	ClientCertificate func() (*tls.Certificate, error)
	// BaseTLS, when set, supplies versions, suites and groups, normally
	// from a tlspolicy profile; nil means the default profile. The tunnel
	// overrides the verification and identity fields.
	BaseTLS *tls.Config
}

// Client is a running client-mode tunnel.
type Client struct {
	*base
	tlsConf *tls.Config
	target  *target
}

// NewClient checks cfg and prepares the TLS configuration. Verification is
// always on: there is no option to skip it.
func NewClient(cfg ClientConfig) (*Client, error) {
	host, _, err := net.SplitHostPort(cfg.Target)
	if err != nil || host == "" {
		return nil, fmt.Errorf("target %q: want HOST:PORT, e.g. api.example.com:443", cfg.Target)
	}
	name := cfg.ServerName
	if name == "" {
		name = host
	}
	pins := map[string]bool{}
	for _, p := range cfg.Pins {
		h, err := authz.ParseSPKIFingerprint(p)
		if err != nil {
			return nil, fmt.Errorf("pin %q: %w", p, err)
		}
		pins[h] = true
	}
	b := newBase(ModeClient, cfg.Options)
	var tc *tls.Config
	if cfg.BaseTLS != nil {
		tc = cfg.BaseTLS.Clone()
	} else {
		tc = tlspolicy.DefaultProfile().TLSConfig()
	}
	tc.RootCAs = cfg.RootCAs
	tc.ServerName = name
	tc.NextProtos = cfg.ALPN
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	// crypto/tls's own check is replaced, never skipped: VerifyConnection
	// runs on every handshake (resumed ones too) and verifies the chain,
	// the name and a stapled OCSP response with certcheck, which runs
	// crypto/x509 and names the reason for a refusal.
	tc.InsecureSkipVerify = true
	roots := cfg.RootCAs
	warned := &sync.Map{}
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		res := certcheck.Verify(context.Background(), certcheck.Input{
			Chain: cs.PeerCertificates, Roots: roots, Name: name, Stapled: cs.OCSPResponse,
		})
		if !res.OK {
			return res.AsError()
		}
		for _, w := range res.Warnings {
			if _, seen := warned.LoadOrStore(w, true); !seen {
				b.log.Warn("target certificate", "target", cfg.Target, "server_name", name, "warning", w)
			}
		}
		return checkPins(res.Chains, pins)
	}
	if cfg.ClientCertificate != nil {
		get := cfg.ClientCertificate
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := get()
			if err != nil || c == nil {
				// Handshake without a certificate; the server decides.
				b.log.Error("no client certificate to present", "error", err)
				return &tls.Certificate{}, nil
			}
			return c, nil
		}
	}
	c := &Client{base: b, tlsConf: tc}
	c.target = newTarget(cfg.Target, b.opts, c.checkHandshake)
	return c, nil
}

// checkHandshake is how the start-up check and the prober decide that the
// target answers: a full TLS handshake with the tunnel's own configuration
// (verification, pins, client certificate), closed with a close_notify. A
// bare TCP connect would show up on a TLS server as a failed handshake on
// every start, and would call the tunnel ready when no handshake can work.
func (c *Client) checkHandshake(ctx context.Context, raw net.Conn) error {
	tc := tls.Client(raw, c.tlsConf)
	hctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return fmt.Errorf("TLS handshake with target %s (%s): %w", c.opts.Target, c.tlsConf.ServerName, err)
	}
	defer tc.Close()
	// With TLS 1.3 the client's side of the handshake ends before the
	// server has looked at the client certificate: a server that refuses
	// it says so with an alert after. Send close_notify and read until
	// the server ends too, or briefly when it does not answer a close.
	wait := min(checkAlertWait, c.opts.HandshakeTimeout)
	tc.SetDeadline(time.Now().Add(wait))
	if err := tc.CloseWrite(); err != nil {
		return nil // the handshake worked; the target closed first
	}
	buf := make([]byte, 512)
	for {
		_, err := tc.Read(buf)
		var oe *net.OpError
		switch {
		case err == nil:
			continue
		case errors.As(err, &oe) && oe.Op == "remote error":
			return fmt.Errorf("target %s (%s) refused the tunnel after the handshake: %w", c.opts.Target, c.tlsConf.ServerName, err)
		}
		return nil
	}
}

// checkAlertWait bounds how long the check waits, after its handshake,
// for a target that refuses the tunnel's certificate to say so.
const checkAlertWait = time.Second

// TLSConfig returns a copy of the configuration used towards the target.
func (c *Client) TLSConfig() *tls.Config { return c.tlsConf.Clone() }

// Serve accepts plaintext connections on ln until ctx is done, then drains.
func (c *Client) Serve(ctx context.Context, ln net.Listener) error {
	c.log.Info("tunnel listening", "mode", ModeClient, "listen", ln.Addr().String(), "target", c.opts.Target, "server_name", c.tlsConf.ServerName)
	bg, wait := c.target.startCheck(ctx)
	defer wait()
	return c.serve(ctx, ln, func(connCtx context.Context, local net.Conn, s *openConn) { c.handle(bg, connCtx, local, s) })
}

func (c *Client) handle(serveCtx, ctx context.Context, local net.Conn, s *openConn) {
	start := time.Now()
	al := accessLog{b: c.base, start: start, client: local.RemoteAddr().String()}
	raw, err := c.target.dial(ctx, serveCtx)
	if err != nil {
		al.refused(resultForDialError(err), err)
		return
	}
	if !s.add(raw) {
		return
	}
	// Nothing has been read from the local connection yet, and nothing
	// will be until the target has proved who it is.
	batch := newBatchConn(raw)
	// Every read of batch happens in this goroutine or in the relay,
	// which has ended when handle returns.
	defer batch.release()
	tc := tls.Client(batch, c.tlsConf)
	hctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		reason := failureReason(err)
		c.m.handshakeFailures.WithLabelValues(reason).Inc()
		al.handshakeFailed(reason, fmt.Errorf("target %s (%s): %w", c.opts.Target, c.tlsConf.ServerName, err))
		return
	}
	c.target.reached()
	cs := tc.ConnectionState()
	c.m.countHandshake(cs)
	al.tlsState(cs)
	if len(cs.PeerCertificates) > 0 {
		al.peer = authz.IdentityFromCertificate(cs.PeerCertificates[0]).String()
	}
	al.relay(end{Conn: local}, end{Conn: tc, tls: tc, batch: batch})
}

func checkPins(chains [][]*x509.Certificate, pins map[string]bool) error {
	if len(pins) == 0 {
		return nil
	}
	var got []string
	seen := map[string]bool{}
	for _, chain := range chains {
		for _, cert := range chain {
			sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			if pins[hex.EncodeToString(sum[:])] {
				return nil
			}
			p := "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
			if !seen[p] {
				seen[p] = true
				got = append(got, p)
			}
		}
	}
	return &PinMismatchError{Got: got}
}
