package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/pki"
	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/tunnel"
)

// The proxy benchmarks compare, in one run, a keep-alive HTTP/1.1 request
// through the gateway with the same request through a bare
// httputil.ReverseProxy behind the same TLS listener, so the gateway's own
// cost per request (routing, limits, forwarded headers, metrics, access
// log) shows as the difference. Run:
//
//	go test -run '^$' -bench Proxy -benchmem ./internal/gateway

func benchUpstream(b *testing.B) *httptest.Server {
	body := []byte(`{"ok":true}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(up.Close)
	return up
}

func benchClient(addr string, roots *tls.Config, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     roots,
		ForceAttemptHTTP2:   h2,
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func runBench(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	fx := testpki.Good(b, testpki.ECDSAP256)
	src, _ := certsource.NewStatic(fx.TLSCertificate())
	clientTLS := &tls.Config{RootCAs: fx.Roots, ServerName: "localhost"}

	for _, h2 := range []bool{false, true} {
		name := "h1"
		if h2 {
			name = "h2"
		}
		b.Run("gateway+accesslog/"+name, func(b *testing.B) {
			f, err := os.CreateTemp(b.TempDir(), "access.log")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			cfg := &Config{Listen: "127.0.0.1:0", AccessLog: f, Sites: []*Site{{Name: "main", Hosts: []string{"localhost"}, Certs: src,
				Routes: []*Route{{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}}}}}}
			g, err := New(cfg, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			c := benchClient(g.Addr(ListenerHTTPS).String(), clientTLS, h2)
			defer c.CloseIdleConnections()
			runBench(b, c, "https://localhost/api")
		})
		b.Run("gateway/"+name, func(b *testing.B) {
			cfg := &Config{Listen: "127.0.0.1:0", Sites: []*Site{{Name: "main", Hosts: []string{"localhost"}, Certs: src,
				Routes: []*Route{{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}}}}}}
			g, err := New(cfg, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			c := benchClient(g.Addr(ListenerHTTPS).String(), clientTLS, h2)
			defer c.CloseIdleConnections()
			runBench(b, c, "https://localhost/api")
		})
		b.Run("reverseproxy/"+name, func(b *testing.B) {
			target, _ := url.Parse(up.URL)
			rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
				Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
			srv := httptest.NewUnstartedServer(rp)
			srv.EnableHTTP2 = true
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{fx.TLSCertificate()}}
			srv.StartTLS()
			defer srv.Close()
			c := benchClient(srv.Listener.Addr().String(), clientTLS, h2)
			defer c.CloseIdleConnections()
			runBench(b, c, "https://localhost/api")
		})
	}
}

// BenchmarkProxyMTLS shows, side by side on keep-alive connections, what a
// client-authenticated route adds per request: authz's decision, the
// X-Client-Cert-* headers (PEM included), a revocation check that answers
// at once, and one that asks the local CA's store (SQLite). Run:
//
//	go test -run '^$' -bench ProxyMTLS -benchmem ./internal/gateway
func BenchmarkProxyMTLS(b *testing.B) {
	up := benchUpstream(b)
	fx := testpki.Good(b, testpki.ECDSAP256)
	src, _ := certsource.NewStatic(fx.TLSCertificate())
	clientCA := testpki.NewCA(b, testpki.ECDSAP256)
	clientCert := clientCA.Issue(b, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, EKU: clientEKU}).TLSCertificate()
	rule, _ := authz.ParseRule("uri:spiffe://corp.test/billing")
	good := &Revocation{Checker: certcheck.RevocationFunc(func(context.Context, *x509.Certificate, *x509.Certificate, time.Time) (certcheck.RevocationStatus, error) {
		return certcheck.RevocationStatus{State: certcheck.RevocationGood}, nil
	})}
	ca, err := pki.InitIfMissing(context.Background(), b.TempDir(), pki.InitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer ca.Close()
	store := &Revocation{Checker: tunnel.LocalCARevocation(ca)}
	local, err := ca.IssueLeaf(context.Background(), pki.Request{Profile: pki.ProfileClient, URIs: []string{"spiffe://corp.test/billing"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		auth ClientAuth
		rv   *Revocation
	}{{"no-client-auth", ClientAuthOff, nil}, {"require+authz", ClientAuthRequire, nil}, {"require+authz+revocation", ClientAuthRequire, good},
		{"require+authz+local-ca-store", ClientAuthRequire, store}} {
		pool, cert := clientCA.Pool(), clientCert
		if v.rv == store {
			pool, cert = ca.RootPool(), *local.TLSCertificate
		}
		b.Run(v.name+"/h1", func(b *testing.B) {
			r := &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}, ClientAuth: v.auth, Revocation: v.rv}
			if v.auth != ClientAuthOff {
				r.Policy = authz.NewPolicy(rule)
			}
			cfg := &Config{Listen: "127.0.0.1:0", Sites: []*Site{{Name: "main", Hosts: []string{"localhost"}, Certs: src, ClientCAs: pool, Routes: []*Route{r}}}}
			g, err := New(cfg, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			c := benchClient(g.Addr(ListenerHTTPS).String(), &tls.Config{RootCAs: fx.Roots, ServerName: "localhost", Certificates: []tls.Certificate{cert}}, false)
			defer c.CloseIdleConnections()
			runBench(b, c, "https://localhost/api")
		})
	}
}
