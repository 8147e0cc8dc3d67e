package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// server is one TLS terminator under test with two listeners in front of the
// same upstream: one serving the ECDSA P-256 certificate, one the RSA-2048.
type server struct {
	name      string
	version   string
	pq        bool // offers X25519MLKEM768
	ecdsaAddr string
	rsaAddr   string
	cmds      []*exec.Cmd
	logs      []string

	idleBaseKiB int64 // RSS before the first idle-connection repetition
}

func (s *server) pids() []int {
	var p []int
	for _, c := range s.cmds {
		if c.Process != nil {
			p = append(p, c.Process.Pid)
		}
	}
	return p
}

// env is what every server setup needs.
type env struct {
	dir       string // temporary directory for configs, logs, state
	repo      string // module root, to build tlsgate
	ecdsa     certPair
	rsa       certPair
	upstream  string // host:port of the plain HTTP origin
	serverCPU string // taskset list for servers, "" for none
	clientCPU string // taskset list for load generators and upstream
	procs     *procs
	maxConns  int // HAProxy's maxconn: it reserves two descriptors for each
	idleConns int // connections the idle test holds open at once
	fdLimit   int // the open-file hard limit every process here inherits

	tlsgateRev string    // build tlsgate from this git revision; "" for the working tree
	buildOnce  sync.Once // tlsgate is built once, for serve and the extras
	bin        string
	buildErr   error
}

// freeAddrs returns n distinct free loopback addresses. The listeners are
// held until all n are chosen: closing each before asking for the next
// lets the kernel hand out the same port twice.
func freeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func freeAddr() (string, error) {
	addrs, err := freeAddrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

func (s *server) allocate() error {
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	s.ecdsaAddr, s.rsaAddr = addrs[0], addrs[1]
	return nil
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

// startNginx configures nginx as an operator would for an API: one worker on
// the pinned core, keep-alive pool to the upstream, access log off, session
// tickets and cache on, HTTP/2 on the TLS listeners.
func startNginx(e *env) (*server, error) {
	s := &server{name: "nginx"}
	if out, err := exec.Command("nginx", "-v").CombinedOutput(); err == nil {
		s.version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: "))
	}
	if err := s.allocate(); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "nginx")
	os.MkdirAll(dir, 0o700)
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile %[9]d;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections %[10]d; multi_accept on; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_header_timeout 300s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    upstream origin { server %[2]s; keepalive 256; }
    server {
        listen %[3]s ssl http2;
        ssl_certificate %[4]s;
        ssl_certificate_key %[5]s;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffers 64 16k; proxy_busy_buffers_size 64k; proxy_max_temp_file_size 0; }
    }
    server {
        listen %[6]s ssl http2;
        ssl_certificate %[7]s;
        ssl_certificate_key %[8]s;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffers 64 16k; proxy_busy_buffers_size 64k; proxy_max_temp_file_size 0; }
    }
}
`, dir, e.upstream, s.ecdsaAddr, e.ecdsa.certFile, e.ecdsa.keyFile, s.rsaAddr, e.rsa.certFile, e.rsa.keyFile,
		min(2*e.idleConns+4096, e.fdLimit), e.idleConns+2000)
	path := filepath.Join(dir, "nginx.conf")
	if err := writeFile(path, conf); err != nil {
		return nil, err
	}
	log := filepath.Join(dir, "stderr.log")
	cmd, err := e.procs.start(e.serverCPU, log, nil, "nginx", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	s.cmds, s.logs = []*exec.Cmd{cmd}, []string{log, filepath.Join(dir, "error.log")}
	return s, nil
}

// startHAProxy runs one HAProxy process with one thread on the pinned core,
// connection reuse to the upstream, ALPN h2 and http/1.1.
func startHAProxy(e *env) (*server, error) {
	s := &server{name: "haproxy"}
	if out, err := exec.Command("haproxy", "-v").CombinedOutput(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		s.version = strings.Fields(first + " ? ?")[2]
	}
	if err := s.allocate(); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "haproxy")
	os.MkdirAll(dir, 0o700)
	conf := fmt.Sprintf(`global
    nbthread 1
    maxconn %[6]d
    ssl-default-bind-options ssl-min-ver TLSv1.2
    tune.ssl.cachesize 100000

defaults
    mode http
    maxconn %[6]d
    timeout connect 5s
    timeout client 300s
    timeout server 60s
    timeout http-request 300s
    timeout http-keep-alive 300s

frontend tls_ecdsa
    bind %[1]s ssl crt %[2]s alpn h2,http/1.1
    default_backend origin

frontend tls_rsa
    bind %[3]s ssl crt %[4]s alpn h2,http/1.1
    default_backend origin

backend origin
    http-reuse always
    server up %[5]s maxconn 1000
`, s.ecdsaAddr, e.ecdsa.combined, s.rsaAddr, e.rsa.combined, e.upstream, e.maxConns)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := writeFile(path, conf); err != nil {
		return nil, err
	}
	log := filepath.Join(dir, "stderr.log")
	cmd, err := e.procs.start(e.serverCPU, log, nil, "haproxy", "-db", "-f", path)
	if err != nil {
		return nil, err
	}
	s.cmds, s.logs = []*exec.Cmd{cmd}, []string{log}
	return s, nil
}

// startCaddy runs Caddy from a Caddyfile with the certificate loaded
// manually, redirects and the admin API off, and logs at error level. Caddy
// picks a loaded certificate by name, not by listener, so each certificate
// gets its own Caddy process; the idle one costs nothing measurable.
func startCaddy(e *env) (*server, error) {
	s := &server{name: "caddy"}
	if out, err := exec.Command("caddy", "version").CombinedOutput(); err == nil {
		s.version = strings.Fields(string(out) + " ?")[0]
	}
	if err := s.allocate(); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		addr string
		cert certPair
	}{{s.ecdsaAddr, e.ecdsa}, {s.rsaAddr, e.rsa}} {
		dir := filepath.Join(e.dir, "caddy-"+l.cert.name)
		os.MkdirAll(dir, 0o700)
		conf := fmt.Sprintf(`{
	admin off
	auto_https disable_redirects
	storage file_system %[1]s/data
	log {
		level ERROR
	}
}

https://%[2]s {
	tls %[3]s %[4]s
	reverse_proxy %[5]s
}
`, dir, l.addr, l.cert.certFile, l.cert.keyFile, e.upstream)
		path := filepath.Join(dir, "Caddyfile")
		if err := writeFile(path, conf); err != nil {
			return nil, err
		}
		log := filepath.Join(dir, "stderr.log")
		envv := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir + "/data", "XDG_CONFIG_HOME=" + dir + "/config"}
		cmd, err := e.procs.start(e.serverCPU, log, envv, "caddy", "run", "--config", path, "--adapter", "caddyfile")
		if err != nil {
			return s, err
		}
		s.cmds = append(s.cmds, cmd)
		s.logs = append(s.logs, log)
	}
	return s, nil
}

// startGoProxy runs the standard-library reference (httputil.ReverseProxy
// behind net/http's TLS server), one process per certificate.
func startGoProxy(e *env) (*server, error) {
	s := &server{name: "go-httputil", version: strings.TrimPrefix(goVersion(), "go"), pq: true}
	if err := s.allocate(); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		addr string
		cert certPair
	}{{s.ecdsaAddr, e.ecdsa}, {s.rsaAddr, e.rsa}} {
		log := filepath.Join(e.dir, "goproxy-"+l.cert.name+".log")
		cmd, err := e.procs.start(e.serverCPU, log, nil, selfPath(), "_goproxy",
			"-addr", l.addr, "-to", "http://"+e.upstream, "-cert", l.cert.certFile, "-key", l.cert.keyFile)
		if err != nil {
			return nil, err
		}
		s.cmds = append(s.cmds, cmd)
		s.logs = append(s.logs, log)
	}
	return s, nil
}

// waitReady waits until every listener of s answers a GET through the proxy
// with the upstream's body, or returns why not with the server's log tail.
func waitReady(ctx context.Context, s *server, timeout time.Duration) error {
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
	}
	deadline := time.Now().Add(timeout)
	var last error
	for _, l := range []struct {
		addr string
		alg  x509.PublicKeyAlgorithm
	}{{s.ecdsaAddr, x509.ECDSA}, {s.rsaAddr, x509.RSA}} {
		addr := l.addr
		for {
			last = probe(ctx, client, "https://"+addr+"/", l.alg)
			if last == nil {
				break
			}
			for _, c := range s.cmds {
				if c.ProcessState != nil {
					return fmt.Errorf("%s exited: %v\n%s", s.name, c.ProcessState, s.logTail())
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s not ready on %s after %v: %v\n%s", s.name, addr, timeout, last, s.logTail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func probe(ctx context.Context, client *http.Client, url string, alg x509.PublicKeyAlgorithm) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 || string(body) != string(smallBody) {
		return fmt.Errorf("got %s %q, want 200 %q", resp.Status, body, smallBody)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || resp.TLS.PeerCertificates[0].PublicKeyAlgorithm != alg {
		return fmt.Errorf("listener does not serve the %v certificate", alg)
	}
	// Warm up: fill the upstream pool and touch the large-response path once
	// per connection slot, so that a short run does not measure a cold start.
	for i := 0; i < 8; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"1m", nil)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("GET /1m: %w", err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != bulkSize {
			return fmt.Errorf("GET /1m: got %s with %d bytes, want 200 with %d", resp.Status, n, bulkSize)
		}
	}
	return nil
}

func (s *server) logTail() string {
	var b strings.Builder
	for _, l := range s.logs {
		if t := tail(l, 8); t != "" {
			fmt.Fprintf(&b, "--- %s\n%s\n", l, t)
		}
	}
	return b.String()
}
