package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// Revocation says how a route checks verified client certificates for
// revocation. One Revocation may be shared by several routes.
type Revocation struct {
	// Checker answers for a client leaf and its issuer: the local CA store,
	// CRLs, OCSP, or several of them.
	Checker certcheck.RevocationChecker
	// FailOpen lets a client pass when its status cannot be told (a CRL
	// out of date, an OCSP responder down). The default refuses it.
	FailOpen bool
	// Timeout bounds one check; 0 means 5s.
	Timeout time.Duration
	// Run, when set, keeps the checker's data fresh (re-reads CRL files,
	// fetches CRLs) until ctx is done. The gateway runs it while the
	// configuration that holds it is served.
	Run func(ctx context.Context)
}

// anyVerified is the policy of a client-authenticated route without rules:
// every certificate the site's client CAs verify.
var anyVerified = func() *authz.Policy {
	r, _ := authz.ParseRule(string(authz.KindAny))
	return authz.NewPolicy(r)
}()

// Reasons a request is refused before authz decides, for the denial
// metric and body; they read like certcheck's and authz's reasons.
const (
	reasonRevoked           = string(certcheck.ReasonRevoked)
	reasonRevocationUnknown = certcheck.ReasonRevocationUnknown
)

// authorizeClient applies the route's client authentication: it strips
// X-Client-Cert-* headers a client sent, checks revocation, asks authz, and
// on success passes the verified identity upstream in those headers. On
// refusal it has answered 403 and returns false; the request must not go
// further.
func (g *Gateway) authorizeClient(w http.ResponseWriter, r *http.Request, rt *route) bool {
	if rt.clientAuth == ClientAuthOff {
		authz.StripClientCertHeaders(r.Header)
		return true
	}
	var id *authz.Identity
	cc := sentClientCert(r)
	switch {
	case cc != nil && cc.id == nil:
		g.refuse(w, r, rt, authz.Decision{Reason: authz.Reason(cc.reason), Rule: "client_ca", Message: cc.message})
		return false
	case cc != nil:
		id = cc.id
	case rt.clientAuth == ClientAuthOptional:
		authz.StripClientCertHeaders(r.Header)
		return true
	}
	if id != nil && rt.revocation != nil {
		if reason, msg := rt.revocation.check(r.Context(), cc.chain); reason != "" {
			g.refuse(w, r, rt, authz.Decision{Reason: authz.Reason(reason), Rule: "revocation", Identity: id.String(), Message: msg})
			return false
		}
	}
	p := rt.policy
	if p == nil {
		p = anyVerified
	}
	d := authz.Authorize(p, g.denyList, id)
	if !d.Allowed {
		g.refuse(w, r, rt, d)
		return false
	}
	authz.SetClientCertHeaders(r.Header, id)
	return true
}

// denial is the 403 body: the gateway's error shape plus authz's decision.
type denial struct {
	Error    string `json:"error"`
	Status   int    `json:"status"`
	Reason   string `json:"reason"`
	Rule     string `json:"rule,omitempty"`
	Identity string `json:"identity,omitempty"`
	Message  string `json:"message"`
}

func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, rt *route, d authz.Decision) {
	code := "forbidden"
	if d.Reason == authz.ReasonNoCertificate {
		code = "client_certificate_required"
	}
	g.metrics.clientDenials.WithLabelValues(rt.siteName, rt.name, string(d.Reason)).Inc()
	g.logger.Warn("client refused", "site", rt.siteName, "route", rt.name, "remote", r.RemoteAddr,
		"reason", string(d.Reason), "identity", d.Identity, "rule", d.Rule, "path", r.URL.Path)
	b, _ := json.Marshal(denial{Error: code, Status: http.StatusForbidden, Reason: string(d.Reason), Rule: d.Rule, Identity: d.Identity, Message: d.Message})
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusForbidden)
	w.Write(b)
}

// clientCert is the outcome of verifying the certificate a client sent.
type clientCert struct {
	id    *authz.Identity     // the verified identity; nil when verification failed
	chain []*x509.Certificate // the verified chain, leaf first
	// reason and message say why verification failed, as certcheck names it.
	reason  certcheck.Reason
	message string
}

// clientCertRefused starts the text of a handshake error caused by the
// client certificate; the failure metric reads the reason after it.
const clientCertRefused = "client certificate refused"

var clientAuthUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}

// verifyClient verifies the certificate chain a client sent against the
// site's client CAs (crypto/x509 through certcheck) and records the outcome
// on the connection. It fails the handshake only when every route of the
// site requires a certificate; elsewhere a bad one is answered per route.
func (s *site) verifyClient(tc *trackedConn, peer []*x509.Certificate) error {
	if len(peer) == 0 {
		tc.client.Store(nil)
		return nil
	}
	if s.clientCAs == nil {
		// certcheck would fall back to the system roots: never for clients.
		return fmt.Errorf("%s (%s): site %s has no client CAs", clientCertRefused, certcheck.ReasonUnknownAuthority, s.name)
	}
	res := certcheck.Verify(context.Background(), certcheck.Input{Chain: peer, Roots: s.clientCAs, Usages: clientAuthUsage})
	if res.OK && len(res.Chains) > 0 {
		chain := res.Chains[0]
		tc.client.Store(&clientCert{id: authz.IdentityFromCertificate(chain[0]), chain: chain})
		return nil
	}
	if s.allRequire {
		return fmt.Errorf("%s (%s): %s", clientCertRefused, res.Reason, res.Message)
	}
	tc.client.Store(&clientCert{reason: res.Reason, message: res.Message})
	return nil
}

// sentClientCert returns the outcome of verifying the request's client
// certificate, or nil when the client sent none.
func sentClientCert(r *http.Request) *clientCert {
	if tc := connFrom(r); tc != nil {
		return tc.client.Load()
	}
	return nil
}

// verifiedClient returns the verified identity of the request's client,
// or nil.
func verifiedClient(r *http.Request) *authz.Identity {
	if cc := sentClientCert(r); cc != nil {
		return cc.id
	}
	return nil
}

// check asks the checker about a verified chain's leaf and returns a
// refusal reason and message, or "" when the client may pass.
func (rv *Revocation) check(ctx context.Context, chain []*x509.Certificate) (reason, msg string) {
	timeout := rv.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	reason, msg = certcheck.RefuseRevokedClient(ctx, rv.Checker, chain, timeout, rv.FailOpen)
	if reason == reasonRevoked {
		msg += "; ask its CA for a new one"
	}
	return reason, msg
}

// DenyList is the gateway's deny-list: identities on it are refused on
// every client-authenticated route, and their open connections are closed
// when they are added. It outlives reloads.
func (g *Gateway) DenyList() *authz.DenyList { return g.denyList }

// trackConn remembers open HTTPS connections so that a deny-list change can
// close those of a denied identity.
func (g *Gateway) trackConn(c *tls.Conn, open bool) {
	g.connMu.Lock()
	defer g.connMu.Unlock()
	if open {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// closeDenied closes every open connection whose verified client is on the
// deny-list now.
func (g *Gateway) closeDenied() {
	g.connMu.Lock()
	conns := make([]*tls.Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.connMu.Unlock()
	for _, c := range conns {
		tc, _ := c.NetConn().(*trackedConn)
		if tc == nil {
			continue
		}
		cc := tc.client.Load()
		if cc == nil || cc.id == nil {
			continue
		}
		id := cc.id
		if e, denied := g.denyList.Denied(id); denied {
			g.logger.Warn("closing connection of a denied client", "remote", c.RemoteAddr().String(), "identity", id.String(), "rule", e.String(), "note", e.Note)
			g.metrics.clientDenials.WithLabelValues("", "", string(authz.ReasonDenyListed)).Inc()
			c.Close()
		}
	}
}

// denyRequest is the body of POST and DELETE /deny on the admin listener,
// the same as tlsgate tunnel's.
type denyRequest struct {
	Entry string `json:"entry"`
	Note  string `json:"note,omitempty"`
}

func (g *Gateway) changeDenyList(w http.ResponseWriter, r *http.Request, change func(authz.DenyEntry) bool) {
	var req denyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("body: %v; send {\"entry\": \"serial:HEX\"} or {\"entry\": \"spki:sha256/BASE64\"}", err)})
		return
	}
	e, err := authz.ParseDenyEntry(req.Entry)
	if err != nil {
		writeAdminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	e.Note = req.Note
	changed := change(e)
	g.logger.Info("deny-list changed", "method", r.Method, "entry", e.String(), "note", e.Note, "changed", changed)
	writeAdminJSON(w, http.StatusOK, map[string]any{"entry": e.String(), "changed": changed})
}

func writeAdminJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
