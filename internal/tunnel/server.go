package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// ClientAuth says whether server mode asks clients for a certificate.
type ClientAuth string

// The client authentication settings.
const (
	// ClientAuthOff asks for no certificate; every client that completes
	// the handshake is forwarded.
	ClientAuthOff ClientAuth = "off"
	// ClientAuthRequire demands a certificate from a trusted client CA that
	// the policy allows.
	ClientAuthRequire ClientAuth = "require"
	// ClientAuthOptional forwards clients that send no certificate; a client
	// that sends one must be verified and allowed by the policy.
	ClientAuthOptional ClientAuth = "optional"
)

// ParseClientAuth reads --client-auth.
func ParseClientAuth(s string) (ClientAuth, error) {
	switch ClientAuth(strings.ToLower(s)) {
	case ClientAuthOff, "":
		return ClientAuthOff, nil
	case ClientAuthRequire:
		return ClientAuthRequire, nil
	case ClientAuthOptional:
		return ClientAuthOptional, nil
	}
	return "", fmt.Errorf("client authentication %q: expected require, optional or off", s)
}

// ServerConfig configures server mode: TLS in, plaintext out.
type ServerConfig struct {
	Options
	// GetCertificate returns the certificate to serve. It is called on
	// every handshake, so a source that reloads files serves the newest
	// pair while established connections keep theirs.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientAuth, ClientCAs, Policy and DenyList decide who may pass.
	ClientAuth ClientAuth
	ClientCAs  *x509.CertPool
	Policy     *authz.Policy
	DenyList   *authz.DenyList
	// Revocation, when set, is asked about every verified client
	// certificate. It fails closed: a revoked certificate, and one whose
	// status the checker cannot tell, are refused.
	Revocation certcheck.RevocationChecker
	// ALPN lists the protocols accepted, if any.
	ALPN []string
	// BaseTLS, when set, supplies versions, suites and groups, normally
	// from a tlspolicy profile; nil means the default profile. The tunnel
	// sets the certificate and client-auth fields.
	BaseTLS *tls.Config
}

// Server is a running server-mode tunnel.
type Server struct {
	*base
	cfg     ServerConfig
	tlsConf *tls.Config
	target  *target
}

// CheckClientAuth checks that client authentication and allow rules fit
// together: rules need client authentication, and client authentication
// needs at least one rule, since an empty policy would let no one pass.
// Callers can run it before they obtain a certificate.
func CheckClientAuth(auth ClientAuth, policy *authz.Policy) error {
	switch auth {
	case ClientAuthOff, "":
		if !policy.Empty() {
			return fmt.Errorf("allow rules (%s) need client authentication: add --client-auth require", policy)
		}
	case ClientAuthRequire, ClientAuthOptional:
		if policy.Empty() {
			return fmt.Errorf("--client-auth %s without an allow rule would refuse every client: add --allow-uri, --allow-dns, --allow-email, --allow-cn, --allow-fingerprint or --allow-spki, or --allow-any-verified to accept every client certificate the client CA issued", auth)
		}
	default:
		return fmt.Errorf("client authentication %q: expected require, optional or off", auth)
	}
	return nil
}

// NewServer checks cfg: client authentication needs client CAs and at least
// one rule (CheckClientAuth).
func NewServer(cfg ServerConfig) (*Server, error) {
	if _, _, err := net.SplitHostPort(cfg.Target); err != nil {
		return nil, fmt.Errorf("target %q: want HOST:PORT, e.g. 127.0.0.1:6379", cfg.Target)
	}
	if cfg.GetCertificate == nil {
		return nil, errors.New("server mode needs a certificate: pass --cert and --key")
	}
	if cfg.ClientAuth == "" {
		cfg.ClientAuth = ClientAuthOff
	}
	b := newBase(ModeServer, cfg.Options)
	var tc *tls.Config
	if cfg.BaseTLS != nil {
		tc = cfg.BaseTLS.Clone()
	} else {
		tc = tlspolicy.DefaultProfile().TLSConfig()
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	tc.Certificates = nil
	tc.GetCertificate = cfg.GetCertificate
	tc.NextProtos = cfg.ALPN
	if err := CheckClientAuth(cfg.ClientAuth, cfg.Policy); err != nil {
		return nil, err
	}
	switch cfg.ClientAuth {
	case ClientAuthOff:
		tc.ClientAuth = tls.NoClientCert
	case ClientAuthRequire, ClientAuthOptional:
		if cfg.ClientCAs == nil {
			return nil, fmt.Errorf("--client-auth %s needs the CAs that issue client certificates: pass --client-ca FILE", cfg.ClientAuth)
		}
		tc.ClientCAs = cfg.ClientCAs
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		if cfg.ClientAuth == ClientAuthOptional {
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
	default:
		return nil, fmt.Errorf("client authentication %q: expected require, optional or off", cfg.ClientAuth)
	}
	if cfg.ClientAuth != ClientAuthOff || cfg.Revocation != nil {
		// Each connection checks its client in its own handshake. Session
		// tickets still come from tc, as crypto/tls takes their keys from
		// the configuration that GetConfigForClient was called on.
		perConn := tc.Clone()
		baseVerify := tc.VerifyConnection
		tc.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			ac, ok := hello.Conn.(*admissionConn)
			if !ok {
				// Without its admissionConn the client could not be
				// checked: refuse rather than fall back to tc.
				return nil, fmt.Errorf("tunnel: a connection of type %T is not set up for the client checks; refused", hello.Conn)
			}
			c := perConn.Clone()
			c.VerifyConnection = func(cs tls.ConnectionState) error {
				if baseVerify != nil {
					if err := baseVerify(cs); err != nil {
						return err
					}
				}
				return ac.verify(cs)
			}
			return c, nil
		}
	}
	return &Server{base: b, cfg: cfg, tlsConf: tc, target: newTarget(cfg.Target, b.opts, nil)}, nil
}

// Serve accepts TLS connections on ln until ctx is done, then drains. While
// it runs, a change of the deny-list closes the open connections of every
// identity it now denies.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("tunnel listening", "mode", ModeServer, "listen", ln.Addr().String(), "target", s.opts.Target,
		"client_auth", s.cfg.ClientAuth, "allow", s.cfg.Policy.String())
	bg, wait := s.target.startCheck(ctx)
	defer wait()
	if s.cfg.DenyList != nil {
		var wg sync.WaitGroup
		wctx, cancel := context.WithCancel(ctx)
		wg.Go(func() { s.cfg.DenyList.Watch(wctx, s.closeDenied) })
		defer wg.Wait()
		defer cancel()
	}
	return s.serve(ctx, ln, func(connCtx context.Context, c net.Conn, oc *openConn) { s.handle(bg, connCtx, c, oc) })
}

// closeDenied closes the connections of identities on the deny-list.
func (s *Server) closeDenied() {
	s.forEachOpen(func(oc *openConn) {
		oc.mu.Lock()
		id := oc.peer
		oc.mu.Unlock()
		if id == nil {
			return
		}
		if e, denied := s.cfg.DenyList.Denied(id); denied {
			s.log.Warn("closing connection of a denied client", "peer", id.String(), "rule", e.String(), "note", e.Note)
			s.m.denials.WithLabelValues(string(authz.ReasonDenyListed), e.String()).Inc()
			oc.close()
		}
	})
}

func (s *Server) handle(serveCtx, ctx context.Context, c net.Conn, oc *openConn) {
	al := accessLog{b: s.base, start: time.Now(), client: c.RemoteAddr().String()}
	batch := newBatchConn(c)
	// Every read of batch happens in this goroutine or in the relay,
	// which has ended when handle returns.
	defer batch.release()
	hctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	ac := &admissionConn{batchConn: batch}
	// The checks inside the handshake get what is left of its timeout, so
	// that a slow client and a slow check together cannot stretch one
	// handshake beyond --handshake-timeout.
	ac.verify = func(cs tls.ConnectionState) error { return s.admit(hctx, ac, cs) }
	tc := tls.Server(ac, s.tlsConf)
	oc.add(tc)
	err := tc.HandshakeContext(hctx)
	cancel()
	if err != nil && ac.refusal != nil {
		al.peer = ac.peer
		al.tlsState(ac.state)
		al.denied(ac.refusal.reason, ac.refusal.rule, ac.refusal.msg)
		return
	}
	if err != nil {
		reason := failureReason(err)
		s.m.handshakeFailures.WithLabelValues(reason).Inc()
		al.handshakeFailed(reason, fmt.Errorf("client %s: %w", al.client, err))
		return
	}
	cs := tc.ConnectionState()
	s.m.countHandshake(cs)
	al.tlsState(cs)
	id, _ := authz.IdentityFromState(&cs)
	if id != nil {
		al.peer = id.String()
	}
	if ac.rule != "" {
		al.attrs = append(al.attrs, slogRule(ac.rule))
	}
	oc.mu.Lock()
	oc.peer = id
	oc.mu.Unlock()
	// The deny-list may have changed between the handshake and now.
	if _, denied := s.cfg.DenyList.Denied(id); denied {
		al.denied(string(authz.ReasonDenyListed), "deny-list", "denied while connecting")
		return
	}
	raw, err := s.target.dial(ctx, serveCtx)
	if err != nil {
		al.refused(resultForDialError(err), err)
		return
	}
	if !oc.add(raw) {
		return
	}
	al.relay(end{Conn: tc, tls: tc, batch: batch}, end{Conn: raw})
}

// admissionConn carries, for one connection, the check of the client that
// runs inside the handshake and what it decided. Refusing the client
// there makes crypto/tls send it an alert (bad_certificate), so the client
// learns it was refused instead of seeing the connection simply close.
type admissionConn struct {
	*batchConn
	verify func(tls.ConnectionState) error

	// Set by verify.
	state   tls.ConnectionState
	peer    string
	rule    string // the allow rule that let the client in
	refusal *refusal
}

// refusal is why a verified client was not let in.
type refusal struct{ reason, rule, msg string }

func (r *refusal) Error() string { return r.msg }

// admit runs in the handshake, once the client's certificate is verified:
// the revocation check and the allow rules decide whether it may pass.
func (s *Server) admit(ctx context.Context, ac *admissionConn, cs tls.ConnectionState) error {
	ac.state = cs
	id, _ := authz.IdentityFromState(&cs)
	if id != nil {
		ac.peer = id.String()
	}
	if id != nil && s.cfg.Revocation != nil {
		if reason, msg := s.checkRevocation(ctx, cs.VerifiedChains[0]); reason != "" {
			ac.refusal = &refusal{reason, "revocation", msg}
			return ac.refusal
		}
	}
	if s.cfg.ClientAuth != ClientAuthOff && (id != nil || s.cfg.ClientAuth == ClientAuthRequire) {
		d := authz.Authorize(s.cfg.Policy, s.cfg.DenyList, id)
		if !d.Allowed {
			ac.refusal = &refusal{string(d.Reason), d.Rule, d.Message}
			return ac.refusal
		}
		ac.rule = d.Rule
	}
	return nil
}

// checkRevocation asks the revocation checker about the client's leaf and
// returns a denial reason and message, or "" when the certificate is good.
// ctx is the handshake's: the check ends at the handshake's deadline.
func (s *Server) checkRevocation(ctx context.Context, chain []*x509.Certificate) (reason, msg string) {
	return certcheck.RefuseRevokedClient(ctx, s.cfg.Revocation, chain, s.opts.HandshakeTimeout, false)
}
