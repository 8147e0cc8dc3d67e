package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// mtlsSetup is a server certificate and a client CA with clients issued by
// it.
type mtlsSetup struct {
	server   *testpki.Fixture
	clientCA *testpki.CA
	billing  *testpki.Issued // spiffe://corp.test/billing
	web      *testpki.Issued // spiffe://corp.test/web
	stranger *testpki.Issued // spiffe://corp.test/billing from another CA
}

func newMTLSSetup(t testing.TB) *mtlsSetup {
	ca := testpki.NewCA(t, testpki.ECDSAP256).NewIntermediate(t)
	client := func(ca *testpki.CA, uri string) *testpki.Issued {
		return ca.Issue(t, testpki.Leaf{CN: "svc", URIs: []string{uri}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	}
	return &mtlsSetup{
		server:   testpki.Good(t, testpki.ECDSAP256),
		clientCA: ca,
		billing:  client(ca, testpki.ClientURI),
		web:      client(ca, "spiffe://corp.test/web"),
		stranger: client(testpki.NewCA(t, testpki.ECDSAP256), testpki.ClientURI),
	}
}

// clientTLS returns a client configuration that trusts the server and
// presents cert (none when nil), even to a server that did not ask for its
// issuer.
func (m *mtlsSetup) clientTLS(cert *testpki.Issued) *tls.Config {
	c := &tls.Config{RootCAs: m.server.Roots, ServerName: m.server.ServerName}
	if cert != nil {
		tc := cert.TLSCertificate()
		if cert == m.stranger {
			// The whole chain, so that the only fault is the unknown root.
			tc.Certificate = append(tc.Certificate, cert.Root.Raw)
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	return c
}

func (m *mtlsSetup) startServer(t *testing.T, target string, auth ClientAuth, deny *authz.DenyList, rules ...string) (string, *logBuffer, *Server) {
	t.Helper()
	p, err := authz.ParsePolicy(rules)
	if err != nil {
		t.Fatal(err)
	}
	opts, lb := testOptions(t, target)
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{
		Options:        opts,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		ClientAuth:     auth, ClientCAs: m.clientCA.Root().Pool(), Policy: p, DenyList: deny,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, s.Serve)
	return addr, lb, s
}

// startRevocationServer starts a server tunnel that requires a client
// certificate from the test CA, lets every verified client pass its rules
// and asks rv about revocation; opt, when not nil, adjusts the options
// first.
func (m *mtlsSetup) startRevocationServer(t *testing.T, target string, rv certcheck.RevocationChecker, opt func(*Options)) (string, *logBuffer, *Server) {
	t.Helper()
	p, _ := authz.ParsePolicy([]string{"any"})
	opts, lb := testOptions(t, target)
	if opt != nil {
		opt(&opts)
	}
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{
		Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		ClientAuth: ClientAuthRequire, ClientCAs: m.clientCA.Root().Pool(), Policy: p, Revocation: rv,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, s.Serve)
	return addr, lb, s
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: testTimeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func TestServerAuthorizesClients(t *testing.T) {
	m := newMTLSSetup(t)
	for _, tc := range []struct {
		name   string
		auth   ClientAuth
		client *testpki.Issued
		pass   bool
		log    []string
	}{
		{"allowed SPIFFE ID", ClientAuthRequire, m.billing, true, []string{"peer=spiffe://corp.test/billing", "allowed_by=uri:spiffe://corp.test/billing", "result=ok"}},
		{"other SPIFFE ID", ClientAuthRequire, m.web, false, []string{"reason=no_rule_matched", "rule=uri:spiffe://corp.test/billing", "peer=spiffe://corp.test/web"}},
		{"no certificate", ClientAuthRequire, nil, false, []string{"reason=no_certificate"}},
		{"untrusted issuer", ClientAuthRequire, m.stranger, false, []string{"reason=unknown_authority"}},
		{"optional, no certificate", ClientAuthOptional, nil, true, []string{"peer=-", "result=ok"}},
		{"optional, other SPIFFE ID", ClientAuthOptional, m.web, false, []string{"reason=no_rule_matched"}},
		{"optional, allowed SPIFFE ID", ClientAuthOptional, m.billing, true, []string{"allowed_by=uri:spiffe://corp.test/billing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			echo, accepted := startEcho(t)
			addr, lb, s := m.startServer(t, echo, tc.auth, nil, "uri:spiffe://corp.test/billing")
			base := afterStartCheck(t, s.m, accepted)
			c, err := dialTLS(t, addr, m.clientTLS(tc.client))
			var got string
			if err == nil {
				got, err = roundTrip(c, "PING\r\n")
			}
			if tc.pass {
				if err != nil || got != "PING\r\n" {
					t.Fatalf("allowed client: %q, %v", got, err)
				}
				c.Close()
			} else {
				if err == nil {
					t.Fatalf("refused client got %q back", got)
				}
				if n := accepted() - base; n != 0 {
					t.Errorf("target accepted %d connections for a refused client", n)
				}
			}
			lb.waitFor(t, tc.log...)
		})
	}
}

// TestDenyListClosesLiveConnections denies a connected client by serial:
// its open connection is closed at once and it cannot reconnect.
func TestDenyListClosesLiveConnections(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	deny := authz.NewDenyList()
	addr, lb, _ := m.startServer(t, echo, ClientAuthRequire, deny, "uri:spiffe://corp.test/**")

	billing, err := dialTLS(t, addr, m.clientTLS(m.billing))
	if err != nil {
		t.Fatal(err)
	}
	web, err := dialTLS(t, addr, m.clientTLS(m.web))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tls.Conn{billing, web} {
		if _, err := roundTrip(c, "PING\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	e, err := authz.ParseDenyEntry(fmt.Sprintf("serial:%x", m.billing.Cert.SerialNumber))
	if err != nil {
		t.Fatal(err)
	}
	e.Note = "key leaked"
	deny.Add(e)

	expectClosed(t, billing)
	lb.waitFor(t, "closing connection of a denied client", "peer=spiffe://corp.test/billing")
	if got, err := roundTrip(web, "STILL\r\n"); err != nil || got != "STILL\r\n" {
		t.Errorf("another client's connection broke: %q, %v", got, err)
	}
	again, err := dialTLS(t, addr, m.clientTLS(m.billing))
	if err == nil {
		_, err = roundTrip(again, "PING\r\n")
	}
	if err == nil {
		t.Fatal("denied client reconnected")
	}
	lb.waitFor(t, "reason=deny_listed", "rule=deny:serial:")
}

func TestNewServerRejectsBadConfig(t *testing.T) {
	m := newMTLSSetup(t)
	cert := m.server.TLSCertificate()
	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	rules, _ := authz.ParsePolicy([]string{"dns:*.corp.test"})
	for _, tc := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{GetCertificate: get}, "want HOST:PORT"},
		{ServerConfig{Options: Options{Target: "127.0.0.1:1"}}, "pass --cert and --key"},
		{ServerConfig{Options: Options{Target: "127.0.0.1:1"}, GetCertificate: get, ClientAuth: ClientAuthRequire, Policy: rules}, "--client-ca"},
		{ServerConfig{Options: Options{Target: "127.0.0.1:1"}, GetCertificate: get, ClientAuth: ClientAuthRequire, ClientCAs: x509.NewCertPool()}, "--allow-any-verified"},
		{ServerConfig{Options: Options{Target: "127.0.0.1:1"}, GetCertificate: get, Policy: rules}, "add --client-auth require"},
		{ServerConfig{Options: Options{Target: "127.0.0.1:1"}, GetCertificate: get, ClientAuth: "maybe"}, "expected require, optional or off"},
	} {
		if _, err := NewServer(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewServer = %v; want an error containing %q", err, tc.want)
		}
	}
	if _, err := ParseClientAuth("sometimes"); err == nil {
		t.Error(`ParseClientAuth("sometimes") succeeded`)
	}
}

// TestTargetDownThenBack: a target that goes down while the tunnel runs
// makes the next connection fail, marks the target down, closes further
// connections at once and serves again once the prober sees it back.
func TestTargetDownThenBack(t *testing.T) {
	m := newMTLSSetup(t)
	ln := listenLoopback(t)
	target := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr, lb, s := m.startServer(t, target, ClientAuthOff, nil)
	waitReadyz(t, s.m, http.StatusOK)
	ln.Close()

	c, err := dialTLS(t, addr, m.clientTLS(nil))
	if err == nil {
		_, err = roundTrip(c, "PING\r\n")
	}
	if err == nil {
		t.Fatal("relay worked with the target down")
	}
	lb.waitFor(t, "target is down", "result=target_unreachable")
	if v := counterValue(t, s.m.targetUp); v != 0 {
		t.Errorf("target_up = %v while down", v)
	}
	if code := readyz(t, s.m); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while the target is down", code)
	}
	c2, err := dialTLS(t, addr, m.clientTLS(nil))
	if err == nil {
		_, err = roundTrip(c2, "PING\r\n")
	}
	if err == nil {
		t.Fatal("second connection relayed while the target is down")
	}
	lb.waitFor(t, "result=target_down")

	listenAgain(t, target)
	lb.waitFor(t, "target answers again")
	c3, err := dialTLS(t, addr, m.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c3, "PING\r\n"); err != nil || got != "PING\r\n" {
		t.Fatalf("after the target came back: %q, %v", got, err)
	}
	if code := readyz(t, s.m); code != http.StatusOK {
		t.Errorf("/readyz = %d after the target came back", code)
	}
}

// listenAgain serves a one-message echo on addr, a target coming back.
func listenAgain(t *testing.T, addr string) {
	t.Helper()
	back, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	serveEach(t, back, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
	})
}

// listenAgainTLS brings a TLS echo target back on addr.
func listenAgainTLS(t *testing.T, addr string, cfg *tls.Config) {
	t.Helper()
	back, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	serveEach(t, back, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		buf := make([]byte, 64)
		n, _ := tc.Read(buf)
		tc.Write(buf[:n])
	})
}

// TestReadinessChecksTargetAtStart: both modes try the target once when
// they start, before any client comes. /readyz is 200 only once that
// connection succeeded; a target that is down at start leaves the tunnel
// running, not ready, and retried until the target answers.
func TestReadinessChecksTargetAtStart(t *testing.T) {
	if code := readyz(t, NewMetrics(nil)); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d before the target was tried", code)
	}
	m := newMTLSSetup(t)
	t.Run("server mode, target up", func(t *testing.T) {
		echo, accepted := startEcho(t)
		_, _, s := m.startServer(t, echo, ClientAuthOff, nil)
		if n := afterStartCheck(t, s.m, accepted); n != 1 {
			t.Errorf("the target saw %d connections, want the one check", n)
		}
	})
	t.Run("client mode, target up", func(t *testing.T) {
		echo, _ := startEcho(t)
		serverAddr, _, _ := m.startServer(t, echo, ClientAuthOff, nil)
		_, _, c := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots})
		waitReadyz(t, c.m, http.StatusOK)
	})
	for _, mode := range []Mode{ModeServer, ModeClient} {
		t.Run(string(mode)+" mode, target down", func(t *testing.T) {
			ln := listenLoopback(t)
			target := ln.Addr().String()
			ln.Close()
			var lb *logBuffer
			var metrics *Metrics
			var connect func() net.Conn
			if mode == ModeServer {
				var s *Server
				var addr string
				addr, lb, s = m.startServer(t, target, ClientAuthOff, nil)
				metrics = s.m
				connect = func() net.Conn {
					c, err := dialTLS(t, addr, m.clientTLS(nil))
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
			} else {
				var c *Client
				var addr string
				addr, lb, c = startClient(t, target, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots})
				metrics = c.m
				connect = func() net.Conn { return dial(t, addr) }
			}
			lb.waitFor(t, "target does not answer yet")
			waitReadyz(t, metrics, http.StatusServiceUnavailable)
			// The failed check alone does not turn clients away: the
			// next one still tries the target itself.
			if got, err := roundTrip(connect(), "PING\r\n"); err == nil {
				t.Fatalf("relayed %q to a target that is down", got)
			}
			lb.waitFor(t, "result=target_unreachable")
			if mode == ModeServer {
				listenAgain(t, target)
			} else {
				// The client tunnel is ready once a TLS handshake
				// with the target works, not at a bare TCP connect.
				listenAgainTLS(t, target, fixtureTLS(m.server))
			}
			waitReadyz(t, metrics, http.StatusOK)
		})
	}
}

// afterStartCheck waits until the tunnel has connected to the target once
// at start and the target has accepted that connection, and returns the
// number of connections the target has accepted.
func afterStartCheck(t *testing.T, m *Metrics, accepted func() int) int {
	t.Helper()
	waitReadyz(t, m, http.StatusOK)
	poll(t, func() (bool, string) { return accepted() != 0, "the target never saw the check at start" })
	return accepted()
}

// waitReadyz polls /readyz until it answers want.
func waitReadyz(t *testing.T, m *Metrics, want int) {
	t.Helper()
	poll(t, func() (bool, string) {
		code := readyz(t, m)
		return code == want, fmt.Sprintf("/readyz = %d, want %d", code, want)
	})
}

// TestAdminDenyList drives the deny-list through the admin API: a denied
// client's open connection is closed, a removed entry lets it back in, and
// a malformed entry is refused with a message saying what to send.
func TestAdminDenyList(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	deny := authz.NewDenyList()
	addr, _, s := m.startServer(t, echo, ClientAuthRequire, deny, "uri:spiffe://corp.test/**")
	admin := httptest.NewServer(s.m.AdminHandler(deny))
	defer admin.Close()
	call := func(method, body string) (int, string) {
		req, _ := http.NewRequest(method, admin.URL+"/deny", strings.NewReader(body))
		resp, err := admin.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	c, err := dialTLS(t, addr, m.clientTLS(m.billing))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(c, "PING\r\n"); err != nil {
		t.Fatal(err)
	}
	pin := authz.IdentityFromCertificate(m.billing.Cert).SPKIPin()
	if code, body := call("POST", `{"entry": "spki:`+pin+`", "note": "laptop stolen"}`); code != 200 || !strings.Contains(body, `"changed": true`) {
		t.Fatalf("POST /deny = %d %s", code, body)
	}
	expectClosed(t, c)
	if code, body := call("GET", ""); code != 200 || !strings.Contains(body, "laptop stolen") {
		t.Errorf("GET /deny = %d %s", code, body)
	}
	if code, body := call("DELETE", `{"entry": "spki:`+pin+`"}`); code != 200 || !strings.Contains(body, `"changed": true`) {
		t.Fatalf("DELETE /deny = %d %s", code, body)
	}
	c2, err := dialTLS(t, addr, m.clientTLS(m.billing))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(c2, "PING\r\n"); err != nil {
		t.Errorf("client still refused after its entry was removed: %v", err)
	}
	for _, body := range []string{`{"entry": "serial:xyz"}`, `{"serial": "0a"}`, `not json`} {
		if code, resp := call("POST", body); code != 400 || !strings.Contains(resp, "error") {
			t.Errorf("POST /deny %s = %d %s; want 400 with an error", body, code, resp)
		}
	}
}

// TestRevokedClientsAreRefused asks a revocation checker about each client:
// revoked and unknown answers refuse the client (fail closed), before it
// reaches the target.
func TestRevokedClientsAreRefused(t *testing.T) {
	m := newMTLSSetup(t)
	echo, accepted := startEcho(t)
	checker := certcheck.RevocationFunc(func(_ context.Context, cert, _ *x509.Certificate, _ time.Time) (certcheck.RevocationStatus, error) {
		st := certcheck.RevocationStatus{Source: "test store", Serial: fmt.Sprintf("%X", cert.SerialNumber)}
		switch cert.SerialNumber.Cmp(m.billing.Cert.SerialNumber) {
		case 0:
			st.State, st.RevokedAt = certcheck.RevocationRevoked, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
			return st, nil
		}
		if cert.SerialNumber.Cmp(m.web.Cert.SerialNumber) == 0 {
			st.State = certcheck.RevocationGood
			return st, nil
		}
		st.State = certcheck.RevocationUnknown
		return st, errors.New("store unreachable")
	})
	third := m.clientCA.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/third"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	addr, lb, s := m.startRevocationServer(t, echo, checker, nil)
	base := afterStartCheck(t, s.m, accepted)
	for _, tc := range []struct {
		client *testpki.Issued
		pass   bool
		log    string
	}{
		{m.web, true, "peer=spiffe://corp.test/web"},
		{m.billing, false, "reason=revoked rule=revocation error=\"client certificate serial " + fmt.Sprintf("%X", m.billing.Cert.SerialNumber) + " was revoked on 2026-01-02 according to the test store\""},
		{third, false, "reason=revocation_unknown"},
	} {
		c, err := dialTLS(t, addr, m.clientTLS(tc.client))
		if err == nil {
			_, err = roundTrip(c, "PING\r\n")
		}
		if (err == nil) != tc.pass {
			t.Errorf("%s: round trip error %v, want pass=%v", tc.client.Cert.URIs[0], err, tc.pass)
		}
		lb.waitFor(t, tc.log)
	}
	if n := accepted() - base; n != 1 {
		t.Errorf("target accepted %d connections, want only the good client's", n)
	}
}

func readyz(t *testing.T, m *Metrics) int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.AdminHandler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	return rec.Code
}

// TestClientCRLFiles refuses a client its CA's CRL lists, and follows a new
// CRL written over the file.
func TestClientCRLFiles(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	crlFile := filepath.Join(t.TempDir(), "clients.crl")
	writeCRL := func(revoked ...*x509.Certificate) {
		der := m.clientCA.CRL(t, revoked...)
		b := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
		if err := os.WriteFile(crlFile+".new", b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(crlFile+".new", crlFile); err != nil {
			t.Fatal(err)
		}
	}
	writeCRL(m.billing.Cert)
	crls, err := NewCRLFiles([]string{crlFile}, reloadInterval, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go crls.Run(ctx)

	addr, lb, _ := m.startRevocationServer(t, echo, crls, nil)
	try := func(client *testpki.Issued) error {
		c, err := dialTLS(t, addr, m.clientTLS(client))
		if err == nil {
			_, err = roundTrip(c, "PING\r\n")
			c.Close()
		}
		return err
	}
	if err := try(m.web); err != nil {
		t.Fatalf("client absent from the CRL refused: %v", err)
	}
	if err := try(m.billing); err == nil {
		t.Fatal("client on the CRL passed")
	}
	lb.waitFor(t, "reason=revoked", "according to the CRL")

	writeCRL() // the revocation was a mistake: a new CRL without it
	deadline := time.Now().Add(testTimeout)
	for try(m.billing) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the new CRL was not picked up")
		}
		time.Sleep(reloadInterval)
	}
	if _, err := NewCRLFiles([]string{filepath.Join(t.TempDir(), "missing.crl")}, 0, nil); err == nil {
		t.Error("a missing CRL file was accepted")
	}
}

func TestAllRevocationCheckers(t *testing.T) {
	answer := func(state certcheck.RevocationState, err error) certcheck.RevocationChecker {
		return certcheck.RevocationFunc(func(context.Context, *x509.Certificate, *x509.Certificate, time.Time) (certcheck.RevocationStatus, error) {
			return certcheck.RevocationStatus{State: state, Source: string(state)}, err
		})
	}
	good, revoked, unknown := answer(certcheck.RevocationGood, nil), answer(certcheck.RevocationRevoked, nil), answer(certcheck.RevocationUnknown, nil)
	failing := answer(certcheck.RevocationUnknown, errors.New("store down"))
	cert := &x509.Certificate{}
	for _, tc := range []struct {
		all  AllRevocationCheckers
		want certcheck.RevocationState
	}{
		{AllRevocationCheckers{good, good}, certcheck.RevocationGood},
		{AllRevocationCheckers{good, revoked}, certcheck.RevocationRevoked}, // a later revocation is not hidden
		{AllRevocationCheckers{unknown, revoked}, certcheck.RevocationRevoked},
		{AllRevocationCheckers{good, unknown}, certcheck.RevocationUnknown},
		{AllRevocationCheckers{failing, good}, certcheck.RevocationUnknown},
	} {
		st, _ := tc.all.CheckRevocation(context.Background(), cert, cert, time.Now())
		if st.State != tc.want {
			t.Errorf("%d checkers: %s, want %s", len(tc.all), st.State, tc.want)
		}
	}
}

// TestRefusedClientGetsAnAlert: the allow rules run inside the handshake,
// so a refused client is told with a bad_certificate alert (in the
// handshake with TLS 1.2, on its first read with TLS 1.3), while the server
// logs the refusal as a denial, not as a failed handshake. An allowed
// client still resumes its session.
func TestRefusedClientGetsAnAlert(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	addr, lb, _ := m.startServer(t, echo, ClientAuthRequire, nil, "uri:spiffe://corp.test/billing")
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := m.clientTLS(m.web)
		cfg.MaxVersion = version
		c, err := dialTLS(t, addr, cfg)
		if err == nil {
			_, err = roundTrip(c, "PING\r\n")
		}
		if err == nil || !strings.Contains(err.Error(), "bad certificate") {
			t.Errorf("%s: a refused client saw %v, want a bad certificate alert", tls.VersionName(version), err)
		}
	}
	deadline := time.Now().Add(testTimeout)
	for strings.Count(lb.String(), "result=denied reason=no_rule_matched") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	log := lb.String()
	for _, v := range []string{`tls_version="TLS 1.2"`, `tls_version="TLS 1.3"`} {
		found := false
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, v) && strings.Contains(line, "result=denied reason=no_rule_matched") {
				found = true
			}
		}
		if !found {
			t.Errorf("no denial logged with %s:\n%s", v, log)
		}
	}
	if strings.Contains(log, "handshake_failed") {
		t.Errorf("a refusal is logged as a failed handshake:\n%s", log)
	}

	cfg := m.clientTLS(m.billing)
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i := range 2 {
		c, err := dialTLS(t, addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := roundTrip(c, "PING\r\n"); err != nil || got != "PING\r\n" {
			t.Fatalf("allowed client: %q, %v", got, err)
		}
		if resumed := c.ConnectionState().DidResume; resumed != (i == 1) {
			t.Errorf("connection %d: resumed = %v", i+1, resumed)
		}
		c.Close()
	}
}

// TestServerKeepsBaseVerifyConnection: a VerifyConnection in the base TLS
// configuration still runs, with or without client authentication, before
// the allow rules.
func TestServerKeepsBaseVerifyConnection(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	for _, auth := range []ClientAuth{ClientAuthOff, ClientAuthRequire} {
		var calls atomic.Int32
		base := &tls.Config{VerifyConnection: func(tls.ConnectionState) error { calls.Add(1); return nil }}
		p, _ := authz.ParsePolicy([]string{"uri:spiffe://corp.test/billing"})
		if auth == ClientAuthOff {
			p, _ = authz.ParsePolicy(nil)
		}
		opts, _ := testOptions(t, echo)
		cert := m.server.TLSCertificate()
		s, err := NewServer(ServerConfig{Options: opts, BaseTLS: base, ClientAuth: auth, ClientCAs: m.clientCA.Root().Pool(), Policy: p,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := serveInBackground(t, s.Serve)
		c, err := dialTLS(t, addr, m.clientTLS(m.billing))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := roundTrip(c, "PING\r\n"); err != nil || got != "PING\r\n" {
			t.Fatalf("client auth %s: %q, %v", auth, got, err)
		}
		if calls.Load() != 1 {
			t.Errorf("client auth %s: the base VerifyConnection ran %d times, want once", auth, calls.Load())
		}
	}
}

// TestRelayTeardownWithStalledClient: a server-tunnel connection whose
// client stopped reading, and whose target then fails, is torn down at
// once rather than after crypto/tls's close_notify write deadline.
func TestRelayTeardownWithStalledClient(t *testing.T) {
	m := newMTLSSetup(t)
	tln := listenLoopback(t)
	serveEach(t, tln, func(c net.Conn) {
		go func() { // then fails with a reset
			time.Sleep(400 * time.Millisecond)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
		buf := make([]byte, 64<<10)
		for range 512 { // a target that talks a lot: at most 32 MiB
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	addr, lb, _ := m.startServer(t, tln.Addr().String(), ClientAuthRequire, nil, "uri:spiffe://corp.test/**")
	c, err := dialTLS(t, addr, m.clientTLS(m.billing))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(testTimeout))
	c.Write([]byte("x"))
	time.Sleep(700 * time.Millisecond) // the tunnel is now blocked writing to c
	start := time.Now()
	c.Write([]byte("y")) // relayed to the target, which has reset: the relay fails
	lb.waitFor(t, `msg="connection closed"`)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the relay took %v to tear down a failed connection whose client does not read", took.Round(time.Millisecond))
	}
}

// TestTargetDownAgainAfterSlowStart: a prober started by the start-up
// check has reached a long backoff by the time the target answers; when
// the target drops again later and comes straight back, clients are let
// through again within the shortest retry delays, not after the old long
// one.
func TestTargetDownAgainAfterSlowStart(t *testing.T) {
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	ln.Close() // down at start
	opts, lb := testOptions(t, addr)
	opts.DialTimeout = time.Second
	s, err := NewServer(ServerConfig{Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.target.check(ctx)
	time.Sleep(1600 * time.Millisecond) // the prober tried at 0.1, 0.3, 0.7 and 1.5 s; next at 3.1 s
	up := func() net.Listener {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("port %s taken meanwhile: %v", addr, err)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return l
	}
	l := up()
	c, err := s.target.dial(ctx, ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	l.Close()
	if _, err := s.target.dial(ctx, ctx); err == nil {
		t.Fatal("dial to a closed port worked")
	}
	l = up() // back at once
	defer l.Close()
	time.Sleep(500 * time.Millisecond) // a prober at the shortest delays has found it by now
	if _, err := s.target.dial(ctx, ctx); err != nil {
		t.Errorf("target back for 500ms, still refused: %v\n%s", err, lb.String())
	}
}

func TestTargetDownNeverSaysNegativeRetry(t *testing.T) {
	e := &errTargetDown{addr: "127.0.0.1:1", lastErr: errors.New("connection refused"), retryIn: -401 * time.Millisecond}
	if msg := e.Error(); strings.Contains(msg, "in -") {
		t.Errorf("message gives a negative delay: %s", msg)
	}
}

// TestServerRefusesUncheckedConnections: with client checks on, a
// handshake that does not run over the tunnel's own connection type
// cannot be checked and is refused, not let through unchecked.
func TestServerRefusesUncheckedConnections(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	p, _ := authz.ParsePolicy([]string{"uri:spiffe://corp.test/web"})
	opts, _ := testOptions(t, echo)
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{
		Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		ClientAuth: ClientAuthRequire, ClientCAs: m.clientCA.Root().Pool(), Policy: p,
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, sc := tcpPair(t)
	stc := tls.Server(sc, s.tlsConf)
	ctc := tls.Client(cc, m.clientTLS(m.billing))
	stc.SetDeadline(time.Now().Add(testTimeout))
	ctc.SetDeadline(time.Now().Add(testTimeout))
	go ctc.Handshake()
	if err := stc.Handshake(); err == nil {
		t.Error("a client the rules refuse got through a handshake that bypassed the checks")
	}
}

// TestRevocationCheckEndsWithTheHandshake has a client that is slow to send
// its certificate and a revocation checker that answers only when its
// context ends: the check must get what is left of the handshake timeout,
// not a fresh timeout of its own, so the handshake ends near the timeout
// rather than near twice it.
func TestRevocationCheckEndsWithTheHandshake(t *testing.T) {
	const handshakeTimeout = 2 * time.Second
	const clientDelay = 1500 * time.Millisecond
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	deadlines, ends := make(chan time.Time, 1), make(chan time.Time, 1)
	checker := certcheck.RevocationFunc(func(ctx context.Context, _, _ *x509.Certificate, _ time.Time) (certcheck.RevocationStatus, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		<-ctx.Done()
		ends <- time.Now()
		return certcheck.RevocationStatus{State: certcheck.RevocationUnknown}, ctx.Err()
	})
	addr, lb, _ := m.startRevocationServer(t, echo, checker, func(o *Options) { o.HandshakeTimeout = handshakeTimeout })
	cfg := m.clientTLS(m.web)
	tc := m.web.TLSCertificate()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		time.Sleep(clientDelay)
		return &tc, nil
	}
	start := time.Now()
	c, err := dialTLS(t, addr, cfg)
	if err == nil {
		// With TLS 1.3 the refusal comes after the client's side of the
		// handshake: read it.
		c.SetDeadline(time.Now().Add(testTimeout))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("client passed a revocation check that never answered")
	}
	lb.waitFor(t, "reason=revocation_unknown")
	// The refusal is logged after the checker returned.
	var d, end time.Time
	select {
	case d = <-deadlines:
		end = <-ends
	default:
		t.Fatal("the revocation checker was not asked")
	}
	// The check's deadline is the handshake's, which began after start.
	if late := d.Sub(start); late > handshakeTimeout+500*time.Millisecond {
		t.Errorf("revocation check deadline %v after the client connected; want within the handshake timeout %v", late.Round(time.Millisecond), handshakeTimeout)
	}
	// Generous: a check with its own timeout would hold the handshake
	// until near clientDelay + handshakeTimeout.
	if took := end.Sub(start); took > handshakeTimeout+clientDelay*2/3 {
		t.Errorf("the server's handshake took %v with a handshake timeout of %v", took.Round(time.Millisecond), handshakeTimeout)
	}
}
