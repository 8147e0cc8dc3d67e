package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/testtool"
)

var clientEKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}

// interopGateway runs the default configuration (intermediate profile)
// with a certificate as a public CA would issue it: revocation URLs and a
// stapled OCSP response. A client-authenticated area is on /private
// (required) and /whoami (optional).
type interopGateway struct {
	*testGateway
	port       string
	root       string // PEM file of the trusted root
	clientCert testpki.Files
}

func startInterop(t *testing.T, routes ...*Route) *interopGateway {
	t.Helper()
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	inter := ca.NewIntermediate(t)
	is := inter.Issue(t, testpki.Leaf{
		DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
		OCSPServer:            []string{"http://127.0.0.1:9/ocsp"},
		CRLDistributionPoints: []string{"http://127.0.0.1:9/crl"},
	})
	cert := is.TLSCertificate()
	cert.OCSPStaple = inter.OCSPResponse(t, is.Cert, ocsp.Good)
	src, err := certsource.NewStatic(cert)
	if err != nil {
		t.Fatal(err)
	}
	clientCA := testpki.NewCA(t, testpki.ECDSAP256)
	client := clientCA.Issue(t, testpki.Leaf{DNS: nil, URIs: []string{"spiffe://corp.test/billing"}, EKU: clientEKU})
	dir := t.TempDir()
	files := is.WriteFiles(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "client"), 0o700); err != nil {
		t.Fatal(err)
	}
	clientFiles := client.WriteFiles(t, filepath.Join(dir, "client"))
	if len(routes) == 0 {
		routes = []*Route{
			{PathPrefix: "/private", Builtin: "whoami", ClientAuth: ClientAuthRequire},
			{PathPrefix: "/", Builtin: "whoami", ClientAuth: ClientAuthOptional},
		}
	}
	site := &Site{Name: "main", Hosts: []string{"localhost", "127.0.0.1"}, Certs: src, ClientCAs: clientCA.Pool(), Routes: routes}
	tg := startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, is.Roots())
	_, port, _ := net.SplitHostPort(tg.https)
	return &interopGateway{testGateway: tg, port: port, root: files.Root, clientCert: clientFiles}
}

func run(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestCurlHTTP1AndHTTP2(t *testing.T) {
	curl := testtool.Need(t, "curl")
	ig := startInterop(t)
	url := "https://localhost:" + ig.port + "/hello"
	for _, v := range []struct{ flag, want string }{{"--http1.1", "1.1"}, {"--http2", "2"}} {
		out, err := run(t, 20*time.Second, "", curl, "-sS", v.flag, "--cacert", ig.root,
			"--resolve", "localhost:"+ig.port+":127.0.0.1", "-D", "-", "-w", "\nversion=%{http_version}\n", url)
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", v.flag, err, out)
		}
		if !strings.Contains(out, "version="+v.want+"\n") || !strings.Contains(strings.ToLower(out), "strict-transport-security: max-age=31536000") {
			t.Errorf("curl %s:\n%s", v.flag, out)
		}
	}
	// The redirect listener sends curl to HTTPS and curl follows it.
	out, err := run(t, 20*time.Second, "", curl, "-sS", "-L", "--cacert", ig.root,
		"--resolve", "localhost:"+ig.port+":127.0.0.1", "http://localhost:"+portOfAddr(ig.http)+"/r?q=1")
	if err != nil || !strings.Contains(out, `"path": "/r"`) || !strings.Contains(out, `"query": "q=1"`) {
		t.Errorf("curl -L through the redirect: %v\n%s", err, out)
	}
}

func portOfAddr(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func TestOpenSSLTLS12AndTLS13WithAndWithoutClientCertificate(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	ig := startInterop(t)
	connect := "127.0.0.1:" + ig.port
	request := "GET /private HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		base := []string{"s_client", "-connect", connect, "-servername", "localhost", "-CAfile", ig.root, "-verify_return_error", "-ign_eof", v}
		out, err := run(t, 20*time.Second, request, openssl, base...)
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", v, err, out)
		}
		wantProto := map[string]string{"-tls1_2": "TLSv1.2", "-tls1_3": "TLSv1.3"}[v]
		if !strings.Contains(out, wantProto) || !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Errorf("openssl %s: want %s and a verified chain:\n%s", v, wantProto, out)
		}
		if !strings.Contains(out, "HTTP/1.1 403") || !strings.Contains(out, "client_certificate_required") {
			t.Errorf("openssl %s without a client certificate: want 403 on /private:\n%s", v, out)
		}
		out, err = run(t, 20*time.Second, request, openssl, append(base, "-cert", ig.clientCert.Cert, "-key", ig.clientCert.Key, "-status")...)
		if err != nil {
			t.Fatalf("openssl %s with a client certificate: %v\n%s", v, err, out)
		}
		if !strings.Contains(out, "HTTP/1.1 200") || !strings.Contains(out, "spiffe://corp.test/billing") {
			t.Errorf("openssl %s with a client certificate: want 200 and the identity:\n%s", v, out)
		}
		if !strings.Contains(out, "OCSP Response Status: successful") {
			t.Errorf("openssl %s: no stapled OCSP response:\n%s", v, out)
		}
	}
	// Old protocol versions are refused.
	for _, v := range []string{"-tls1", "-tls1_1"} {
		out, err := run(t, 20*time.Second, "", openssl, "s_client", "-connect", connect, "-servername", "localhost", v, "-cipher", "DEFAULT:@SECLEVEL=0")
		if err == nil && !strings.Contains(out, "alert") {
			t.Errorf("openssl %s was served:\n%s", v, out)
		}
	}
}

func TestNginxAsUpstream(t *testing.T) {
	nginx := testtool.Need(t, "nginx")
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  server {
    listen %[3]s;
    location / {
      default_type text/plain;
      return 200 "nginx host=$host xff=$http_x_forwarded_for proto=$http_x_forwarded_proto fwd=$http_forwarded uri=$request_uri\n";
    }
  }
}
`, user, dir, addr)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, "-p", dir, "-c", confPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	waitFor(t, "nginx to listen", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	ig := startInterop(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: "http://" + addr}}})
	for _, h2 := range []bool{true, false} {
		ig.client = ig.newClient(h2)
		resp, body := ig.get(t, "https://localhost/api/v1?x=1", "X-Forwarded-For", "6.6.6.6")
		want := "nginx host=localhost xff=127.0.0.1 proto=https fwd=for=127.0.0.1;host=localhost;proto=https uri=/api/v1?x=1\n"
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("h2=%v: %d %q, want %q\nnginx log: %s", h2, resp.StatusCode, body, want, logs.String())
		}
	}
}

// testsslFinding is one entry of testssl.sh's JSON output.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

func TestTestsslFindsNothingMediumOrWorse(t *testing.T) {
	if !testtool.InCI() && os.Getenv("TLSGATE_SLOW_TESTS") == "" {
		t.Skip("testssl.sh takes minutes: runs under CI=true or with TLSGATE_SLOW_TESTS=1")
	}
	testssl := testtool.Need(t, "testssl")
	ig := startInterop(t)
	out := filepath.Join(t.TempDir(), "testssl.json")
	log, err := run(t, 10*time.Minute, "", testssl, "--quiet", "--warnings", "off", "--color", "0", "--nodns", "none",
		"--ip", "127.0.0.1", "--add-ca", ig.root, "--jsonfile", out, "https://localhost:"+ig.port)
	data, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("testssl wrote no JSON (%v): %v\n%s", err, rerr, log)
	}
	var findings []testsslFinding
	if err := json.Unmarshal(data, &findings); err != nil {
		t.Fatalf("testssl JSON: %v", err)
	}
	seen := map[string]testsslFinding{}
	for _, f := range findings {
		seen[f.ID] = f
		switch f.Severity {
		case "MEDIUM", "HIGH", "CRITICAL":
			t.Errorf("testssl %s %s: %s", f.Severity, f.ID, f.Finding)
		}
	}
	if f := seen["cert_chain_of_trust"]; f.Severity != "OK" {
		t.Errorf("cert_chain_of_trust = %+v, want OK", f)
	}
	if f := seen["HSTS_time"]; f.Severity != "OK" {
		t.Errorf("HSTS_time = %+v, want OK", f)
	}
	if len(findings) < 50 {
		t.Errorf("testssl reported only %d findings; did it scan?\n%s", len(findings), log)
	}
}

// knownGoHTTP2Deviations are h2spec cases that Go's net/http HTTP/2 server
// (which tlsgate serves through) fails in the same way with no tlsgate
// code involved: it answers malformed headers with 400 rather than a
// stream error (golang/go#26321), and closes the connection on repeated
// SETTINGS_INITIAL_WINDOW_SIZE values in one frame.
var knownGoHTTP2Deviations = map[string]bool{
	"http2/6.5.3":   true,
	"http2/8.1.2.2": true,
}

type junitSuites struct {
	Suites []struct {
		Package string `xml:"package,attr"`
		Cases   []struct {
			Name    string    `xml:"classname,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestH2spec(t *testing.T) {
	h2spec := testtool.Need(t, "h2spec")
	ig := startInterop(t, whoamiRoute())
	runH2spec := func(sections ...string) (junitSuites, string) {
		report := filepath.Join(t.TempDir(), "h2spec.xml")
		args := append([]string{"-h", "127.0.0.1", "-p", ig.port, "-t", "-k", "-o", "5", "-j", report}, sections...)
		out, _ := run(t, 5*time.Minute, "", h2spec, args...)
		data, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("h2spec wrote no report: %v\n%s", err, out)
		}
		var r junitSuites
		if err := xml.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		return r, out
	}
	r, out := runH2spec()
	cases := 0
	failed := map[string][]string{}
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			cases++
			if (c.Failure != nil || c.Error != nil) && !knownGoHTTP2Deviations[s.Package] {
				failed[s.Package] = append(failed[s.Package], c.Name)
			}
		}
	}
	if cases < 140 {
		t.Errorf("h2spec ran %d cases, want the full suite (about 145)\n%s", cases, out)
	}
	// h2spec waits a fixed time for each answer; on a loaded machine a
	// case can time out. A section that fails again on its own is a real
	// failure.
	for section, names := range failed {
		again, out := runH2spec(section)
		for _, s := range again.Suites {
			for _, c := range s.Cases {
				if c.Failure != nil || c.Error != nil {
					t.Errorf("h2spec %s: %s (failed twice)\n%s", s.Package, c.Name, out)
				}
			}
		}
		t.Logf("h2spec %s passed when run again after failing: %v", section, names)
	}
}

func TestGoClientCertificateReachesWhoamiAndAccessLog(t *testing.T) {
	ig := startInterop(t)
	cert, err := tls.LoadX509KeyPair(ig.clientCert.Cert, ig.clientCert.Key)
	if err != nil {
		t.Fatal(err)
	}
	tr := ig.client.Transport.(*http.Transport)
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	resp, body := ig.get(t, "https://localhost/private")
	if resp.StatusCode != 200 {
		t.Fatalf("with a client certificate: %d %s", resp.StatusCode, body)
	}
	var w Whoami
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatal(err)
	}
	if w.TLS == nil || w.TLS.Client == nil || w.TLS.Client.Name != "spiffe://corp.test/billing" || len(w.TLS.Client.SHA256) != 64 {
		t.Errorf("whoami client = %+v", w.TLS)
	}
	ig.g.state.Load().accessLog.flush()
	if !strings.Contains(ig.logs.String(), `"client":"spiffe://corp.test/billing"`) {
		t.Errorf("access log lacks the client identity:\n%s", ig.logs.String())
	}
	// Without the certificate the required route refuses.
	tr.TLSClientConfig.Certificates = nil
	tr.CloseIdleConnections()
	resp, body = ig.get(t, "https://localhost/private")
	if resp.StatusCode != 403 {
		t.Errorf("without a client certificate: %d %s, want 403", resp.StatusCode, body)
	}
	// The refusal is logged with the route it was refused on.
	ig.g.state.Load().accessLog.flush()
	var refused string
	for _, line := range strings.Split(ig.logs.String(), "\n") {
		if strings.Contains(line, `"status":403`) {
			refused = line
		}
	}
	if !strings.Contains(refused, `"route":"/private"`) {
		t.Errorf("access log line of the refusal lacks its route: %q", refused)
	}
}
