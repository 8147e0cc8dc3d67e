package scan

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// sharedDir holds files that several tests use (a DH group is slow to
// generate); TestMain removes it.
var sharedDir string

func TestMain(m *testing.M) {
	var err error
	if sharedDir, err = os.MkdirTemp("", "tlsgate-scan-test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(sharedDir)
	os.Exit(code)
}

// freePort asks the kernel for a loopback port nobody uses right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening dials addr until it answers, for at most 10 seconds.
func waitListening(t testing.TB, addr string, logs func() string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("server at %s did not start listening within 10s; its output:\n%s", addr, logs())
}

type outBuf struct{ strings.Builder }

func (b *outBuf) Write(p []byte) (int, error) {
	if b.Len() > 1<<16 {
		return len(p), nil
	}
	return b.Builder.Write(p)
}

// startOpenSSL runs openssl s_server with the given certificate chain and
// extra arguments, answering HTTP (-www), and returns its address.
func startOpenSSL(t testing.TB, lf leafFiles, args ...string) string {
	t.Helper()
	bin := testtool.Need(t, "openssl")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	all := []string{"s_server", "-accept", addr, "-cert", lf.cert, "-key", lf.key, "-www", "-quiet"}
	if lf.inter != "" {
		all = append(all, "-cert_chain", lf.inter)
	}
	all = append(all, args...)
	cmd := exec.Command(bin, all...)
	var out outBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start openssl s_server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitListening(t, addr, out.String)
	return addr
}

// startNginx runs nginx in the foreground with one HTTPS server (and a
// plain-HTTP server that redirects to it) and returns both addresses.
func startNginx(t testing.TB, lf leafFiles, tlsDirectives string) (httpsAddr, httpAddr string) {
	t.Helper()
	bin := testtool.Need(t, "nginx")
	dir := t.TempDir()
	tp, hp := freePort(t), freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    server_name localhost;
    ssl_certificate %[4]s;
    ssl_certificate_key %[5]s;
    %[6]s
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:%[3]d;
    location / { return 301 https://localhost:%[2]d$request_uri; }
  }
}
`, dir, tp, hp, lf.chain, lf.key, tlsDirectives)
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", cf, "-e", filepath.Join(dir, "error.log"))
	var out outBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	httpsAddr = fmt.Sprintf("127.0.0.1:%d", tp)
	waitListening(t, httpsAddr, func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return out.String() + string(b)
	})
	return httpsAddr, fmt.Sprintf("127.0.0.1:%d", hp)
}

// scanAddr scans a loopback server with the test CA as the only root.
func scanAddr(t testing.TB, ca *testCA, addr string, o Options) *Result {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	o.Roots = ca.pool()
	if o.ServerName == "" {
		o.ServerName = "localhost"
	}
	o.Timeout = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := NewScanner(o).Scan(ctx, Target{Input: addr, Host: host, Port: port})
	if r.Error != "" {
		t.Fatalf("scan %s: %s", addr, r.Error)
	}
	return r
}

func httpPortOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// startGoServer serves HTTPS with crypto/tls configured by cfg, answering
// every request with 200 and the given headers.
func startGoServer(t testing.TB, lf leafFiles, cfg *tls.Config, headers map[string]string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(lf.chain, lf.key)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		fmt.Fprintln(w, "ok")
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
