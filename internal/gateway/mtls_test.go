package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/testtool"
	"github.com/tlsgate/tlsgate/internal/tunnel"
)

// mtlsGateway serves the worked example of docs/config.md: /payments only
// for spiffe://corp.test/billing, /admin only for admin@corp.test, a public
// /health, and /opt where a certificate is optional but authorized when
// sent. Revocation of /payments is answered by revoked (a serial set).
type mtlsGateway struct {
	*testGateway
	up       *upstream
	clientCA *testpki.CA
	revoked  atomic.Value // map[string]bool of serials (hex), or nil
	unknown  atomic.Bool  // the revocation source cannot answer
}

func policy(t *testing.T, rules ...string) *authz.Policy {
	t.Helper()
	p, err := authz.ParsePolicy(rules)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startMTLS(t *testing.T, failOpen bool) *mtlsGateway {
	t.Helper()
	mg := &mtlsGateway{up: newUpstream(t, nil), clientCA: testpki.NewCA(t, testpki.ECDSAP256)}
	rv := &Revocation{FailOpen: failOpen, Checker: certcheck.RevocationFunc(func(_ context.Context, cert, _ *x509.Certificate, _ time.Time) (certcheck.RevocationStatus, error) {
		st := certcheck.RevocationStatus{Source: "test store", State: certcheck.RevocationGood}
		if mg.unknown.Load() {
			return certcheck.RevocationStatus{Source: "test store", State: certcheck.RevocationUnknown}, errors.New("store unreachable")
		}
		if m, _ := mg.revoked.Load().(map[string]bool); m[cert.SerialNumber.Text(16)] {
			st.State, st.RevokedAt = certcheck.RevocationRevoked, time.Now()
		}
		return st, nil
	})}
	up := []Upstream{{URL: mg.up.URL}}
	site, roots := siteFor(t,
		&Route{PathPrefix: "/payments", Upstreams: up, ClientAuth: ClientAuthRequire, Policy: policy(t, "uri:spiffe://corp.test/billing"), Revocation: rv},
		&Route{PathPrefix: "/admin", Upstreams: up, ClientAuth: ClientAuthRequire, Policy: policy(t, "email:admin@corp.test")},
		&Route{PathPrefix: "/opt", Upstreams: up, ClientAuth: ClientAuthOptional, Policy: policy(t, "uri:spiffe://corp.test/billing")},
		&Route{PathPrefix: "/health", Upstreams: up},
	)
	site.ClientCAs = mg.clientCA.Pool()
	mg.testGateway = startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	return mg
}

func (mg *mtlsGateway) issue(t *testing.T, l testpki.Leaf) tls.Certificate {
	t.Helper()
	l.EKU = clientEKU
	return mg.clientCA.Issue(t, l).TLSCertificate()
}

// as returns a client presenting cert (none when nil), HTTP/1.1 so that
// tests can reason about one connection.
// dialHTTP1 opens an HTTP/1.1 TLS connection to the gateway presenting
// cert; the test closes it at its end.
func (mg *mtlsGateway) dialHTTP1(t *testing.T, cert tls.Certificate) *tls.Conn {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", mg.https, &tls.Config{
		ServerName: "localhost", RootCAs: mg.roots, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (mg *mtlsGateway) as(cert *tls.Certificate) *testGateway {
	c := mg.newClient(false)
	if cert != nil {
		// Sent whatever CAs the server names, as curl does; Go's client
		// would otherwise keep a certificate from a CA the server did not
		// list to itself.
		c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	tg := *mg.testGateway
	tg.client = c
	return &tg
}

func TestMTLSAllowedIdentityReachesUpstreamWithHeaders(t *testing.T) {
	mg := startMTLS(t, false)
	billing := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	resp, body := mg.as(&billing).get(t, "https://localhost/payments/charge",
		"X-Client-Cert-San-Uri", "spiffe://corp.test/admin", "x_client_cert_subject", "CN=forged")
	if resp.StatusCode != 200 {
		t.Fatalf("billing on /payments: %d %s", resp.StatusCode, body)
	}
	got := mg.up.last(t)
	uris, err := authz.ClientCertHeaderValues(got.Header, authz.HeaderURI)
	if err != nil || len(uris) != 1 || uris[0] != "spiffe://corp.test/billing" {
		t.Errorf("upstream %s = %v (%v), want the verified SPIFFE ID only", authz.HeaderURI, uris, err)
	}
	if len(got.Header.Get(authz.HeaderSHA256)) != 64 || !strings.Contains(got.Header.Get(authz.HeaderPEM), "BEGIN%20CERTIFICATE") {
		t.Errorf("upstream lacks fingerprint or PEM: %v", got.Header)
	}
	for k := range got.Header {
		if strings.Contains(strings.ToLower(k), "x_client") {
			t.Errorf("forged header %s reached the upstream", k)
		}
	}
	// The optional route authorizes a certificate that is sent, and passes
	// its identity on too.
	if resp, body := mg.as(&billing).get(t, "https://localhost/opt"); resp.StatusCode != 200 {
		t.Fatalf("billing on /opt: %d %s", resp.StatusCode, body)
	}
	if uris, _ := authz.ClientCertHeaderValues(mg.up.last(t).Header, authz.HeaderURI); len(uris) != 1 || uris[0] != "spiffe://corp.test/billing" {
		t.Errorf("/opt upstream %s = %v", authz.HeaderURI, uris)
	}
}

func TestMTLSForgedHeadersStrippedOnPublicAndOptionalRoutes(t *testing.T) {
	mg := startMTLS(t, false)
	for _, path := range []string{"/health", "/opt"} {
		resp, body := mg.as(nil).get(t, "https://localhost"+path, "X-Client-Cert-San-Uri", "spiffe%3A%2F%2Fcorp.test%2Fbilling", "X-Client-Cert-Sha256", "00")
		if resp.StatusCode != 200 {
			t.Fatalf("%s without a certificate: %d %s", path, resp.StatusCode, body)
		}
		for k := range mg.up.last(t).Header {
			if authz.IsClientCertHeader(k) {
				t.Errorf("%s: forged %s reached the upstream", path, k)
			}
		}
	}
}

func TestMTLSWrongIdentityGets403NamingRuleAndNeverReachesUpstream(t *testing.T) {
	mg := startMTLS(t, false)
	other := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/reporting"}})
	for _, path := range []string{"/payments", "/admin", "/opt"} {
		resp, body := mg.as(&other).get(t, "https://localhost"+path)
		d := decodeError(t, body)
		if resp.StatusCode != 403 || d["reason"] != "no_rule_matched" || d["identity"] != "spiffe://corp.test/reporting" {
			t.Errorf("%s as reporting: %d %s", path, resp.StatusCode, body)
		}
		if path == "/payments" && d["rule"] != "uri:spiffe://corp.test/billing" {
			t.Errorf("/payments denial names rule %v, want uri:spiffe://corp.test/billing", d["rule"])
		}
	}
	resp, body := mg.as(nil).get(t, "https://localhost/payments")
	if d := decodeError(t, body); resp.StatusCode != 403 || d["error"] != "client_certificate_required" || d["reason"] != "no_certificate" {
		t.Errorf("/payments without a certificate: %d %s", resp.StatusCode, body)
	}
	if n := mg.up.count(); n != 0 {
		t.Errorf("the upstream saw %d refused requests", n)
	}
	admin := mg.issue(t, testpki.Leaf{Emails: []string{"admin@corp.test"}})
	if resp, body := mg.as(&admin).get(t, "https://localhost/admin/users"); resp.StatusCode != 200 {
		t.Errorf("admin on /admin: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(metricsText(t, mg.testGateway), `tlsgate_client_auth_denials_total{reason="no_rule_matched",route="/payments",site="main"} 1`) {
		t.Errorf("denial not counted by reason:\n%s", metricsText(t, mg.testGateway))
	}
}

func metricsText(t *testing.T, tg *testGateway) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + tg.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMTLSHostDifferentFromSNIGets421(t *testing.T) {
	mg := startMTLS(t, false)
	billing := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	resp, body := mg.as(&billing).get(t, "https://localhost/payments", "Host", "127.0.0.1")
	if resp.StatusCode != http.StatusMisdirectedRequest || mg.up.count() != 0 {
		t.Errorf("Host 127.0.0.1 over SNI localhost: %d %s", resp.StatusCode, body)
	}
}

// badClientCerts are client certificates the client CA did not issue, or
// outside their validity, each with the reason certcheck gives.
func (mg *mtlsGateway) badClientCerts(t *testing.T) map[string]tls.Certificate {
	// The stranger sends its root too, as a client configured with a
	// full chain does: the root is one the gateway does not trust.
	is := testpki.NewCA(t, testpki.ECDSAP256).Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, EKU: clientEKU})
	stranger := is.TLSCertificate()
	stranger.Certificate = append(stranger.Certificate, is.Root.Raw)
	expired := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	notYet := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	return map[string]tls.Certificate{"unknown_authority": stranger, "expired": expired, "not_yet_valid": notYet}
}

func TestMTLSBadClientCertificatesGet403OnASiteWithPublicRoutes(t *testing.T) {
	mg := startMTLS(t, false)
	for reason, c := range mg.badClientCerts(t) {
		for _, path := range []string{"/opt", "/payments"} {
			resp, body := mg.as(&c).get(t, "https://localhost"+path)
			if d := decodeError(t, body); resp.StatusCode != 403 || d["reason"] != reason || d["rule"] != "client_ca" {
				t.Errorf("%s certificate on %s: %d %s", reason, path, resp.StatusCode, body)
			}
		}
		if resp, body := mg.as(&c).get(t, "https://localhost/health"); resp.StatusCode != 200 {
			t.Errorf("%s certificate on the public route: %d %s", reason, resp.StatusCode, body)
		}
	}
	if n := mg.up.count(); n != 3 {
		t.Errorf("the upstream saw %d requests, want only the 3 to /health", n)
	}
}

func TestMTLSBadClientCertificatesFailTheHandshakeWhenEveryRouteRequires(t *testing.T) {
	mg := &mtlsGateway{up: newUpstream(t, nil), clientCA: testpki.NewCA(t, testpki.ECDSAP256)}
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: mg.up.URL}}, ClientAuth: ClientAuthRequire})
	site.ClientCAs = mg.clientCA.Pool()
	mg.testGateway = startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	for reason, c := range mg.badClientCerts(t) {
		if _, err := mg.as(&c).client.Get("https://localhost/"); err == nil {
			t.Errorf("%s client certificate: the request passed", reason)
		}
	}
	if mg.up.count() != 0 {
		t.Errorf("the upstream saw %d requests from bad certificates", mg.up.count())
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := metricsText(t, mg.testGateway)
		all := true
		for _, r := range []string{"unknown_authority", "expired", "not_yet_valid"} {
			all = all && strings.Contains(m, `tlsgate_tls_handshake_failures_total{reason="client_certificate_`+r+`"} 1`)
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handshake failures not counted by reason:\n%s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	good := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	if resp, body := mg.as(&good).get(t, "https://localhost/"); resp.StatusCode != 200 {
		t.Errorf("a good certificate: %d %s", resp.StatusCode, body)
	}
}

func TestMTLSRevokedRefusedAtOnceAndFailClosed(t *testing.T) {
	mg := startMTLS(t, false)
	billing := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	c := mg.as(&billing)
	if resp, body := c.get(t, "https://localhost/payments"); resp.StatusCode != 200 {
		t.Fatalf("before revocation: %d %s", resp.StatusCode, body)
	}
	mg.revoked.Store(map[string]bool{billing.Leaf.SerialNumber.Text(16): true})
	// Same client, same keep-alive connection: the next request is refused.
	resp, body := c.get(t, "https://localhost/payments")
	if d := decodeError(t, body); resp.StatusCode != 403 || d["reason"] != "revoked" {
		t.Errorf("after revocation: %d %s", resp.StatusCode, body)
	}
	mg.revoked.Store(map[string]bool{})
	mg.unknown.Store(true)
	resp, body = c.get(t, "https://localhost/payments")
	if d := decodeError(t, body); resp.StatusCode != 403 || d["reason"] != "revocation_unknown" {
		t.Errorf("status unknown, failing closed: %d %s", resp.StatusCode, body)
	}
	if mg.up.count() != 1 {
		t.Errorf("upstream saw %d requests, want only the one before revocation", mg.up.count())
	}

	open := startMTLS(t, true)
	open.unknown.Store(true)
	billing = open.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	if resp, body := open.as(&billing).get(t, "https://localhost/payments"); resp.StatusCode != 200 {
		t.Errorf("status unknown, failing open: %d %s", resp.StatusCode, body)
	}
}

func TestMTLSRevokedByCRLWithinRefreshInterval(t *testing.T) {
	up := newUpstream(t, nil)
	clientCA := testpki.NewCA(t, testpki.ECDSAP256)
	billing := clientCA.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, EKU: clientEKU})
	crlFile := filepath.Join(t.TempDir(), "client.crl")
	writeCRL := func(der []byte) {
		tmp := crlFile + ".new"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, crlFile); err != nil {
			t.Fatal(err)
		}
	}
	writeCRL(clientCA.CRL(t))
	const refresh = 100 * time.Millisecond
	crls, err := tunnel.NewCRLFiles([]string{crlFile}, refresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv := &Revocation{Checker: crls, Run: crls.Run}
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}, ClientAuth: ClientAuthRequire, Revocation: rv})
	site.ClientCAs = clientCA.Pool()
	tg := startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	tr := tg.client.Transport.(*http.Transport)
	tr.TLSClientConfig.Certificates = []tls.Certificate{billing.TLSCertificate()}
	if resp, body := tg.get(t, "https://localhost/"); resp.StatusCode != 200 {
		t.Fatalf("before the CRL lists it: %d %s", resp.StatusCode, body)
	}
	time.Sleep(20 * time.Millisecond) // a new modification time for the poller
	writeCRL(clientCA.CRL(t, billing.Cert))
	deadline := time.Now().Add(10 * refresh)
	for {
		resp, body := tg.get(t, "https://localhost/")
		if resp.StatusCode == 403 {
			if d := decodeError(t, body); d["reason"] != "revoked" {
				t.Errorf("refused for %v, want revoked: %s", d["reason"], body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d %d refresh intervals after the CRL listed the certificate", resp.StatusCode, 10)
		}
		time.Sleep(refresh / 4)
	}
}

func TestDenyListClosesEstablishedKeepAliveConnection(t *testing.T) {
	mg := startMTLS(t, false)
	billing := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	conn := mg.dialHTTP1(t, billing)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	req := "GET /payments HTTP/1.1\r\nHost: localhost\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	admin := &http.Client{Timeout: 5 * time.Second}
	ar, err := admin.Post("http://"+mg.admin+"/deny", "application/json",
		strings.NewReader(`{"entry": "serial:`+billing.Leaf.SerialNumber.Text(16)+`", "note": "key leaked"}`))
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := io.ReadAll(ar.Body)
	ar.Body.Close()
	if ar.StatusCode != 200 || !strings.Contains(string(ab), `"changed": true`) {
		t.Fatalf("POST /deny: %d %s", ar.StatusCode, ab)
	}
	// The gateway closes the connection: a read ends without a request.
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection of the denied client is still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection of the denied client was not closed within 10s")
	}
	// A new connection with the same certificate is refused by the rule.
	_, body := mg.as(&billing).get(t, "https://localhost/payments")
	if d := decodeError(t, body); d["reason"] != "deny_listed" || !strings.HasPrefix(d["rule"].(string), "deny:serial:") {
		t.Errorf("new connection after denial: %s", body)
	}
	if mg.up.count() != 1 {
		t.Errorf("upstream saw %d requests, want 1", mg.up.count())
	}
	// A bad entry is a 400 that says what to send.
	ar, err = admin.Post("http://"+mg.admin+"/deny", "application/json", strings.NewReader(`{"entry": "cn:x"}`))
	if err != nil {
		t.Fatal(err)
	}
	ar.Body.Close()
	if ar.StatusCode != 400 {
		t.Errorf("bad deny entry: %d, want 400", ar.StatusCode)
	}
}

func TestMTLSWithCurlAndOpenSSL(t *testing.T) {
	curl := testtool.Need(t, "curl")
	openssl := testtool.Need(t, "openssl")
	mg := startMTLS(t, false)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	billing := mg.clientCA.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, EKU: clientEKU})
	other := mg.clientCA.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/reporting"}, EKU: clientEKU})
	bc, bk := write("billing.pem", billing.ChainPEM()), write("billing.key", billing.KeyPEM(t))
	oc, ok := write("other.pem", other.ChainPEM()), write("other.key", other.KeyPEM(t))
	rootFile := write("root.pem", testpki.CertsPEM(serverRoot(t, mg.testGateway)))
	_, port, _ := net.SplitHostPort(mg.https)
	url := "https://localhost:" + port + "/payments"
	base := []string{"-sS", "--cacert", rootFile, "--resolve", "localhost:" + port + ":127.0.0.1", "-w", "\ncode=%{http_code}\n"}
	out, err := run(t, 20*time.Second, "", curl, append(base, "--cert", bc, "--key", bk, url)...)
	if err != nil || !strings.Contains(out, "code=200") {
		t.Errorf("curl --cert billing: %v\n%s", err, out)
	}
	out, err = run(t, 20*time.Second, "", curl, append(base, url)...)
	if err != nil || !strings.Contains(out, "code=403") || !strings.Contains(out, "client_certificate_required") {
		t.Errorf("curl without a certificate: %v\n%s", err, out)
	}
	out, err = run(t, 20*time.Second, "", curl, append(base, "--cert", oc, "--key", ok, url)...)
	if err != nil || !strings.Contains(out, "code=403") || !strings.Contains(out, `"rule":"uri:spiffe://corp.test/billing"`) {
		t.Errorf("curl --cert reporting: %v\n%s", err, out)
	}
	out, err = run(t, 20*time.Second, "GET /payments HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", openssl,
		"s_client", "-connect", "127.0.0.1:"+port, "-servername", "localhost", "-CAfile", rootFile, "-cert", bc, "-key", bk, "-quiet", "-verify_return_error")
	if err != nil || !strings.Contains(out, "HTTP/1.1 200") {
		t.Errorf("openssl s_client -cert billing: %v\n%s", err, out)
	}
	if n := mg.up.count(); n != 2 {
		t.Errorf("upstream saw %d requests, want the 2 allowed ones", n)
	}
}

// serverRoot returns the root the test gateway's certificate chains to, by
// asking the gateway.
func serverRoot(t *testing.T, tg *testGateway) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https, &tls.Config{ServerName: "localhost", RootCAs: tg.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chains := conn.ConnectionState().VerifiedChains
	return chains[0][len(chains[0])-1]
}

// A resumed session carries the client certificate of the full handshake,
// which is verified again, so the identity survives resumption.
func TestMTLSIdentitySurvivesSessionResumption(t *testing.T) {
	mg := startMTLS(t, false)
	billing := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	c := mg.as(&billing)
	tr := c.client.Transport.(*http.Transport)
	tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, wantResumed := range []bool{false, true} {
		resp, body := c.get(t, "https://localhost/payments")
		if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.DidResume != wantResumed {
			t.Fatalf("request %d: %d resumed=%v %s", i, resp.StatusCode, resp.TLS != nil && resp.TLS.DidResume, body)
		}
		if uris, _ := authz.ClientCertHeaderValues(mg.up.last(t).Header, authz.HeaderURI); len(uris) != 1 || uris[0] != "spiffe://corp.test/billing" {
			t.Errorf("request %d: upstream %s = %v", i, authz.HeaderURI, uris)
		}
		tr.CloseIdleConnections()
	}
}
