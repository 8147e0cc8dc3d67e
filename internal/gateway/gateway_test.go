package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// testGateway is a running gateway on loopback and a client that trusts it.
type testGateway struct {
	g      *Gateway
	roots  *x509.CertPool
	https  string // host:port
	http   string
	admin  string
	client *http.Client // HTTP/2-capable, trusts the test root
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// siteFor returns a site named "main" for localhost and 127.0.0.1 with a
// certificate from testpki.
func siteFor(t *testing.T, routes ...*Route) (*Site, *x509.CertPool) {
	t.Helper()
	fx := testpki.Good(t, testpki.ECDSAP256)
	src, err := certsource.NewStatic(fx.TLSCertificate())
	if err != nil {
		t.Fatal(err)
	}
	return &Site{Name: "main", Hosts: []string{"localhost", "127.0.0.1"}, Certs: src, Routes: routes}, fx.Roots
}

func startGateway(t *testing.T, cfg *Config, roots *x509.CertPool) *testGateway {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.HTTPListen == "" {
		cfg.HTTPListen = "127.0.0.1:0"
	}
	if cfg.AdminListen == "" {
		cfg.AdminListen = "127.0.0.1:0"
	}
	logs := &syncBuffer{}
	if cfg.AccessLog == nil {
		cfg.AccessLog = logs
	}
	g, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	tg := &testGateway{g: g, roots: roots, logs: logs,
		https: g.Addr(ListenerHTTPS).String(),
		http:  g.Addr(ListenerHTTP).String(),
		admin: g.Addr(ListenerAdmin).String(),
	}
	tg.client = tg.newClient(true)
	// Cleanups run last-in first-out: idle client connections close before
	// the gateway drains, so shutdown does not wait for them.
	t.Cleanup(func() { tg.client.CloseIdleConnections() })
	return tg
}

// newClient returns a client that dials the gateway whatever the URL's host
// is, so tests can use real names like localhost and api.test.
func (tg *testGateway) newClient(h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: tg.roots},
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", tg.https)
		},
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (tg *testGateway) get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := tg.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func whoamiRoute() *Route { return &Route{PathPrefix: "/", Builtin: "whoami"} }

func TestWhoamiOverHTTP2AndHTTP1(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	for _, h2 := range []bool{true, false} {
		tg.client = tg.newClient(h2)
		resp, body := tg.get(t, "https://localhost/hello?x=1", "X-Test", "yes")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("HSTS = %q, want max-age=31536000", got)
		}
		var w Whoami
		if err := json.Unmarshal(body, &w); err != nil {
			t.Fatalf("whoami is not JSON: %v\n%s", err, body)
		}
		wantProto, wantALPN := "HTTP/2.0", "h2"
		if !h2 {
			wantProto, wantALPN = "HTTP/1.1", "http/1.1"
		}
		if w.Method != "GET" || w.Path != "/hello" || w.Query != "x=1" || w.Proto != wantProto {
			t.Errorf("whoami request = %+v", w)
		}
		if w.Headers["X-Test"] == nil {
			t.Errorf("whoami headers miss X-Test: %v", w.Headers)
		}
		if w.TLS == nil || w.TLS.Version != "TLS 1.3" || w.TLS.ALPN != wantALPN || w.TLS.SNI != "localhost" || w.TLS.Group == "" || w.TLS.CipherSuite == "" {
			t.Errorf("whoami TLS = %+v", w.TLS)
		}
		if w.TLS != nil && w.TLS.HandshakeMilli <= 0 {
			t.Errorf("handshake time not recorded: %+v", w.TLS)
		}
	}
	tg.g.state.Load().accessLog.flush()
	if !strings.Contains(tg.logs.String(), `"tls_version":"TLS 1.3"`) {
		t.Errorf("access log lacks the TLS version:\n%s", tg.logs.String())
	}
}

func TestRedirectNamesPortAndKeepsPathAndQuery(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	acme := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "token-ok") })
	tg := startGateway(t, &Config{Sites: []*Site{site}, ACMEChallenge: acme}, roots)
	_, port, _ := net.SplitHostPort(tg.https)
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get("http://" + tg.http + "/a/b?c=d&e=f")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "https://127.0.0.1:" + port + "/a/b?c=d&e=f"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect = %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, err = c.Get("http://" + tg.http + "/.well-known/acme-challenge/abc")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "token-ok" {
		t.Errorf("ACME challenge = %d %q, want 200 token-ok", resp.StatusCode, body)
	}
}

func TestRedirectOmitsPort443(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, RedirectPort: 443}, roots)
	req, _ := http.NewRequest("GET", "http://"+tg.http+"/x", nil)
	req.Host = "api.example.com"
	resp, err := (&http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Location"); got != "https://api.example.com/x" {
		t.Errorf("Location = %q, want https://api.example.com/x", got)
	}
}

// upstream is a test backend that records what it received.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(context.Background()))
		u.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		fmt.Fprintf(w, "upstream %s %s", r.Method, r.URL.RequestURI())
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream saw no request")
	}
	return u.reqs[len(u.reqs)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

func TestProxySetsForwardedAndDropsSpoofed(t *testing.T) {
	up := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/api", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	resp, body := tg.get(t, "https://localhost/api/users?id=7",
		"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Host", "evil.test", "X-Forwarded-Proto", "http", "Forwarded", "for=6.6.6.6")
	if resp.StatusCode != 200 || string(body) != "upstream GET /api/users?id=7" {
		t.Fatalf("proxy = %d %q", resp.StatusCode, body)
	}
	r := up.last(t)
	if got := r.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want [127.0.0.1]", got)
	}
	if got := r.Header.Get("X-Forwarded-Host"); got != "localhost" {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if got := r.Header.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := r.Header.Values("Forwarded"); len(got) != 1 || got[0] != "for=127.0.0.1;host=localhost;proto=https" {
		t.Errorf("Forwarded = %q", got)
	}
	if r.Host != "localhost" {
		t.Errorf("upstream Host = %q, want the client's", r.Host)
	}
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 {
		t.Errorf("HSTS headers = %q, want exactly one", got)
	}
	// No route for /other.
	resp, _ = tg.get(t, "https://localhost/other")
	if resp.StatusCode != 404 {
		t.Errorf("unrouted path = %d, want 404", resp.StatusCode)
	}
	// /apix is not under /api.
	resp, _ = tg.get(t, "https://localhost/apix")
	if resp.StatusCode != 404 {
		t.Errorf("/apix = %d, want 404 (prefixes match whole segments)", resp.StatusCode)
	}
}

func TestProxyKeepsChainFromTrustedProxy(t *testing.T) {
	up := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, roots)
	tg.get(t, "https://localhost/", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https", "Forwarded", "for=203.0.113.9")
	r := up.last(t)
	if got := r.Header.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the chain extended", got)
	}
	if got := r.Header.Get("Forwarded"); got != "for=203.0.113.9, for=127.0.0.1;host=localhost;proto=https" {
		t.Errorf("Forwarded = %q", got)
	}
}

func TestStripPrefixAndUpstreamBasePath(t *testing.T) {
	up := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/v1/", StripPrefix: true, Upstreams: []Upstream{{URL: up.URL + "/base"}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	_, body := tg.get(t, "https://localhost/v1/items")
	if string(body) != "upstream GET /base/items" {
		t.Errorf("got %q, want the prefix stripped and base path joined", body)
	}
}

func decodeError(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, body)
	}
	return m
}

func TestUpstreamDownAnswers502Promptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: dead}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	resp, body := tg.get(t, "https://localhost/")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
	}
	m := decodeError(t, body)
	if m["error"] != "upstream_unreachable" || !strings.Contains(m["message"].(string), "refused") {
		t.Errorf("error body = %v", m)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("error responses must carry HSTS too")
	}
}

func TestSlowUpstreamAnswers504(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}, UpstreamTimeout: 200 * time.Millisecond})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	resp, body := tg.get(t, "https://localhost/slow")
	if resp.StatusCode != http.StatusGatewayTimeout || decodeError(t, body)["error"] != "upstream_timeout" {
		t.Fatalf("status %d %s, want 504 upstream_timeout", resp.StatusCode, body)
	}
}

func TestPlainHTTPToHTTPSPortGets400WithHint(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + tg.https + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
		t.Errorf("got %d %q, want 400 with a hint", resp.StatusCode, body)
	}
	waitFor(t, "the failure to be counted", func() bool {
		return metricValue(t, tg, `tlsgate_tls_handshake_failures_total{reason="plain_http"}`) == 1
	})
}

func TestOversizedHeadersGet431(t *testing.T) {
	up := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{MaxHeaderBytes: 4096}}, roots)
	tg.client = tg.newClient(false)
	resp, _ := tg.get(t, "https://localhost/", "X-Big", strings.Repeat("a", 16<<10))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
	if up.count() != 0 {
		t.Error("an oversized request reached the upstream")
	}
}

func TestBodyLimit(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{MaxBodyBytes: 1000}}, roots)
	// Declared too large: refused before the upstream.
	resp, err := tg.client.Post("https://localhost/", "text/plain", strings.NewReader(strings.Repeat("x", 2000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared large body: %d, want 413", resp.StatusCode)
	}
	if up.count() != 0 {
		t.Error("a declared oversized body reached the upstream")
	}
	// Streamed without a length: cut at the limit.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(strings.Repeat("y", 5000)))
		pw.Close()
	}()
	resp, err = tg.client.Post("https://localhost/", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed large body: %d, want 413", resp.StatusCode)
	}
	// Within the limit passes.
	resp, err = tg.client.Post("https://localhost/", "text/plain", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("small body: %d, want 200", resp.StatusCode)
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{RatePerSecond: 0.001, RateBurst: 2}}, roots)
	var codes []int
	for range 4 {
		resp, _ := tg.get(t, "https://localhost/")
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 || codes[3] != 429 {
		t.Errorf("codes = %v, want [200 200 429 429]", codes)
	}
}

// twoSites serves a.test and b.test with one certificate for both.
func twoSites(t *testing.T, defaultSite string) (*testGateway, *upstream, *upstream) {
	t.Helper()
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	is := ca.Issue(t, testpki.Leaf{DNS: []string{"a.test", "b.test", "c.test"}})
	src, err := certsource.NewStatic(is.TLSCertificate())
	if err != nil {
		t.Fatal(err)
	}
	ua, ub := newUpstream(t, nil), newUpstream(t, nil)
	cfg := &Config{DefaultSite: defaultSite, Sites: []*Site{
		{Name: "a", Hosts: []string{"a.test"}, Certs: src, Routes: []*Route{{PathPrefix: "/", Upstreams: []Upstream{{URL: ua.URL}}}}},
		{Name: "b", Hosts: []string{"b.test"}, Certs: src, Routes: []*Route{{PathPrefix: "/", Upstreams: []Upstream{{URL: ub.URL}}}}},
	}}
	return startGateway(t, cfg, is.Roots()), ua, ub
}

func TestSitesBySNIAndHostMustAgree(t *testing.T) {
	tg, ua, ub := twoSites(t, "")
	resp, _ := tg.get(t, "https://a.test/")
	if resp.StatusCode != 200 || ua.count() != 1 {
		t.Fatalf("a.test: %d", resp.StatusCode)
	}
	resp, _ = tg.get(t, "https://b.test/")
	if resp.StatusCode != 200 || ub.count() != 1 {
		t.Fatalf("b.test: %d", resp.StatusCode)
	}
	// SNI a.test, Host b.test: misdirected, and b's upstream never sees it.
	resp, body := tg.get(t, "https://a.test/", "Host", "b.test")
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host differing from SNI: %d %s, want 421", resp.StatusCode, body)
	}
	if ub.count() != 1 {
		t.Error("a request with a foreign Host reached the other site's upstream")
	}
	// An unknown SNI without a default site fails the handshake.
	_, err := tg.client.Get("https://c.test/")
	if err == nil || !strings.Contains(err.Error(), "internal error") && !strings.Contains(err.Error(), "alert") {
		t.Errorf("unknown SNI: err = %v, want a handshake failure", err)
	}
	waitFor(t, "the failure to be counted", func() bool {
		return metricValue(t, tg, `tlsgate_tls_handshake_failures_total{reason="unknown_server_name"}`) >= 1
	})
}

func TestUnknownSNIUsesDefaultSite(t *testing.T) {
	tg, ua, _ := twoSites(t, "a")
	// No SNI at all (an IP literal): the default site.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || ua.count() != 1 {
		t.Errorf("no SNI: %d, want 200 from the default site", resp.StatusCode)
	}
}

func TestInvalidHostGets400(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	for _, host := range []string{"bad host", "a..b", "x:notaport", "[::1"} {
		resp, body := rawRequest(t, tg, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if resp != 400 {
			t.Errorf("Host %q: %d %s, want 400", host, resp, body)
		}
	}
}

// rawRequest sends raw bytes over TLS (HTTP/1.1) and returns the status.
func rawRequest(t *testing.T, tg *testGateway, raw string) (int, string) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: tg.roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestContentLengthAndTransferEncodingNeverReachUpstreamTogether(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	// Two different lengths: refused.
	code, _ := rawRequest(t, tg, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde")
	if code != 400 {
		t.Errorf("two Content-Lengths: %d, want 400", code)
	}
	// Both framings: the request is read as chunked (RFC 9112 section 6.3)
	// and the upstream sees one consistent framing only.
	code, _ = rawRequest(t, tg, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if code == 200 {
		r := up.last(t)
		if r.Header.Get("Content-Length") != "" && len(r.TransferEncoding) > 0 {
			t.Error("the upstream saw both Content-Length and Transfer-Encoding")
		}
	} else if code != 400 {
		t.Errorf("CL+TE: %d, want 200 (chunked wins) or 400", code)
	}
	// An unknown transfer coding is refused.
	code, _ = rawRequest(t, tg, "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
	if code < 400 {
		t.Errorf("TE gzip: %d, want an error", code)
	}
}

func TestGarbageAndTruncatedTLSDoNotHurt(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	inputs := [][]byte{
		{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00}, // truncated ClientHello
		{0x16, 0x03, 0x01, 0xff, 0xff},             // oversized record length
		[]byte("\x00\x01\x02garbage garbage garbage"),
		{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}, // application data before a handshake
	}
	for _, in := range inputs {
		c, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(in)
		if cw, ok := c.(*net.TCPConn); ok {
			cw.CloseWrite()
		}
		io.Copy(io.Discard, c) // the server must close, not hang
		c.Close()
	}
	resp, _ := tg.get(t, "https://localhost/")
	if resp.StatusCode != 200 {
		t.Errorf("after garbage the gateway answers %d", resp.StatusCode)
	}
	if got := metricValue(t, tg, `tlsgate_tls_handshake_failures_total{reason="not_tls"}`); got < 1 {
		t.Errorf("not_tls failures = %v, want counted", got)
	}
}

func metricValue(t *testing.T, tg *testGateway, series string) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + tg.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

func TestAdminHealthAndMetrics(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	tg.get(t, "https://localhost/")
	c := &http.Client{Timeout: 5 * time.Second}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := c.Get("http://" + tg.admin + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d", p, resp.StatusCode)
		}
	}
	if v := metricValue(t, tg, `tlsgate_http_requests_total{code="200",route="/",site="main"}`); v != 1 {
		t.Errorf("requests metric = %v, want 1", v)
	}
	resp, err := c.Get("http://" + tg.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`tlsgate_tls_handshakes_total{group="X25519MLKEM768",resumed="false",suite="TLS_AES_128_GCM_SHA256",version="TLS 1.3"}`,
		`tlsgate_certificate_expiry_timestamp_seconds{name="localhost",site="main"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestSlowHeadersAndSlowHandshakeAreCut(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{ReadHeaderTimeout: 200 * time.Millisecond}}, roots)
	// A TCP connection that never starts its handshake.
	idle, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// A TLS connection that dribbles its request headers.
	slow, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET / HTTP/1.1\r\nHost: localhost\r\n")
	for _, c := range []net.Conn{idle, slow} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%T: the gateway kept a connection without complete headers open for 10s", c)
		}
	}
}

// The whoami API reads the request body before it answers, and bounds it.
func TestWhoamiReadsTheBody(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	for _, h2 := range []bool{true, false} {
		c := tg.newClient(h2)
		resp, err := c.Post("https://localhost/echo", "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		var w Whoami
		err = json.NewDecoder(resp.Body).Decode(&w)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || w.BodyBytes != 5 {
			t.Errorf("h2=%v: status %d, body_bytes %d (%v), want 200 and 5", h2, resp.StatusCode, w.BodyBytes, err)
		}
		resp, err = c.Post("https://localhost/echo", "application/octet-stream", io.LimitReader(zeros{}, whoamiMaxBody+1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("h2=%v: a body over 1 MiB answered %d, want 413", h2, resp.StatusCode)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
