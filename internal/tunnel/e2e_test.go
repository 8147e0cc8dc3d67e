package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// reloadInterval is how often certificate files are polled in these tests.
const reloadInterval = 20 * time.Millisecond

func runFiles(t *testing.T, f *certsource.Files) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.Run(ctx)
}

// copyFiles installs a certificate and key where a running tunnel reads
// them, the way a renewal job would: write aside, then rename.
func copyFiles(t *testing.T, from testpki.Files, certDst, keyDst string) {
	t.Helper()
	for _, p := range [][2]string{{from.Chain, certDst}, {from.Key, keyDst}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1]+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p[1]+".new", p[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientTunnelToServerTunnel runs the whole path a legacy client uses:
// plaintext into a client tunnel that presents a client certificate from
// files, mTLS to a server tunnel that authorizes it, plaintext to the
// service. Replacing the client certificate files changes the identity of
// new connections without touching the open one.
func TestClientTunnelToServerTunnel(t *testing.T) {
	m := newMTLSSetup(t)
	dir := t.TempDir()
	billingFiles := m.billing.WriteFiles(t, filepath.Join(mkdir(t, dir, "billing")))
	webFiles := m.web.WriteFiles(t, filepath.Join(mkdir(t, dir, "web")))
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	copyFiles(t, billingFiles, certFile, keyFile)

	echo, _ := startEcho(t)
	serverAddr, serverLog, _ := m.startServer(t, echo, ClientAuthRequire, nil, "uri:spiffe://corp.test/billing")

	clientCert, err := NewClientCertFiles(certFile, keyFile, reloadInterval, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go clientCert.Run(ctx)
	addr, clientLog, _ := startClient(t, serverAddr, ClientConfig{
		ServerName: m.server.ServerName, RootCAs: m.server.Roots,
		ClientCertificate: clientCert.Certificate,
	})

	open := dial(t, addr)
	if got, err := roundTrip(open, "PING\r\n"); err != nil || got != "PING\r\n" {
		t.Fatalf("through both tunnels: %q, %v", got, err)
	}
	serverLog.waitFor(t, "allowed_by=uri:spiffe://corp.test/billing")

	copyFiles(t, webFiles, certFile, keyFile)
	deadline := time.Now().Add(testTimeout)
	for {
		c, _ := clientCert.Certificate()
		if c.Leaf.SerialNumber.Cmp(m.web.Cert.SerialNumber) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("client certificate files were not reloaded")
		}
		time.Sleep(reloadInterval)
	}
	refused := dial(t, addr)
	if got, err := roundTrip(refused, "PING\r\n"); err == nil {
		t.Fatalf("a client presenting spiffe://corp.test/web got %q through", got)
	}
	serverLog.waitFor(t, "reason=no_rule_matched", "peer=spiffe://corp.test/web")
	if got, err := roundTrip(open, "STILL\r\n"); err != nil || got != "STILL\r\n" {
		t.Errorf("the open connection broke on reload: %q, %v", got, err)
	}
	open.Close()
	clientLog.waitFor(t, "bytes_up=13")
}

// TestServerCertificateReload swaps the served certificate files: new
// handshakes get the new certificate, the open connection keeps working.
func TestServerCertificateReload(t *testing.T) {
	dir := t.TempDir()
	first := testpki.Good(t, testpki.ECDSAP256)
	second := first.Issued.Issuer.Issue(t, testpki.Leaf{})
	firstFiles := first.Issued.WriteFiles(t, mkdir(t, dir, "first"))
	secondFiles := second.WriteFiles(t, mkdir(t, dir, "second"))
	certFile, keyFile := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	copyFiles(t, firstFiles, certFile, keyFile)

	files, err := certsource.NewFiles(certFile, keyFile, certsource.FilesOptions{PollInterval: reloadInterval})
	if err != nil {
		t.Fatal(err)
	}
	runFiles(t, files)
	echo, _ := startEcho(t)
	opts, _ := testOptions(t, echo)
	s, err := NewServer(ServerConfig{Options: opts, GetCertificate: files.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, s.Serve)
	cfg := &tls.Config{RootCAs: first.Roots, ServerName: "localhost"}

	open, err := dialTLS(t, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if open.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(first.Leaf().SerialNumber) != 0 {
		t.Fatal("first connection did not get the first certificate")
	}
	copyFiles(t, secondFiles, certFile, keyFile)
	deadline := time.Now().Add(testTimeout)
	for {
		c, err := dialTLS(t, addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := c.ConnectionState().PeerCertificates[0].SerialNumber
		c.Close()
		if got.Cmp(second.Cert.SerialNumber) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new connections still get the old certificate")
		}
		time.Sleep(reloadInterval)
	}
	if got, err := roundTrip(open, "PING\r\n"); err != nil || got != "PING\r\n" {
		t.Errorf("connection opened before the reload broke: %q, %v", got, err)
	}
}

// TestGracefulShutdown stops accepting at once, lets an open connection
// finish, and returns when it has.
func TestGracefulShutdown(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	opts, lb := testOptions(t, echo)
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveInBackground(t, s.Serve)
	c, err := dialTLS(t, addr, m.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(c, "PING\r\n"); err != nil {
		t.Fatal(err)
	}
	// Stop the server the way SIGTERM does, from another goroutine.
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	lb.waitFor(t, "draining open connections")
	if _, err := dialTLS(t, addr, m.clientTLS(nil)); err == nil {
		t.Error("a new connection was accepted while draining")
	}
	if got, err := roundTrip(c, "DRAIN\r\n"); err != nil || got != "DRAIN\r\n" {
		t.Fatalf("open connection during drain: %q, %v", got, err)
	}
	select {
	case <-stopped:
		t.Fatal("Serve returned while a connection was still open")
	case <-time.After(50 * time.Millisecond):
	}
	c.Close()
	select {
	case <-stopped:
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return after the last connection closed")
	}
}

// TestDrainTimeoutClosesConnections ends connections still open when the
// drain timeout expires.
func TestDrainTimeoutClosesConnections(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	opts, lb := testOptions(t, echo)
	opts.DrainTimeout = 100 * time.Millisecond
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveInBackground(t, s.Serve)
	c, err := dialTLS(t, addr, m.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(c, "PING\r\n"); err != nil {
		t.Fatal(err)
	}
	stop()
	expectClosed(t, c)
	lb.waitFor(t, "drain timeout reached", "closed=1")
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBulkIntegrity pushes several megabytes both ways through a client
// and a server tunnel: every byte arrives, in order, and the half-close at
// the end still lets the echoed tail come back.
func TestBulkIntegrity(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	serverAddr, _, _ := m.startServer(t, echo, ClientAuthOff, nil)
	addr, lb, _ := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots})

	payload := make([]byte, 6<<20+123) // not a multiple of any buffer or record size
	rand.Read(payload)
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(testTimeout))
	errc := make(chan error, 1)
	go func() {
		// Odd write sizes, so records and batches straddle the writes.
		for rest := payload; len(rest) > 0; {
			n := min(len(rest), 70001)
			if _, err := c.Write(rest[:n]); err != nil {
				errc <- err
				return
			}
			rest = rest[n:]
		}
		errc <- c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want %d identical ones", len(got), len(payload))
	}
	lb.waitFor(t, fmt.Sprintf("bytes_up=%d bytes_down=%d", len(payload), len(payload)))
}

// TestClientLogsRefusalByTarget: a target that accepts the handshake and
// then refuses the client, by closing or with a TLS alert, before sending
// a byte is logged by the client tunnel as refused, with what it saw, and
// not as a connection that went well.
func TestClientLogsRefusalByTarget(t *testing.T) {
	t.Run("server tunnel denies the client certificate", func(t *testing.T) {
		m := newMTLSSetup(t)
		echo, _ := startEcho(t)
		serverAddr, serverLog, _ := m.startServer(t, echo, ClientAuthRequire, nil, "uri:spiffe://corp.test/billing")
		web := m.web.TLSCertificate()
		addr, lb, _ := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots,
			ClientCertificate: func() (*tls.Certificate, error) { return &web, nil }})
		c := dial(t, addr)
		if got, err := roundTrip(c, "PING\r\n"); err == nil {
			t.Fatalf("a denied client got %q through", got)
		}
		c.Close()
		serverLog.waitFor(t, "result=denied", "reason=no_rule_matched")
		log := lb.waitFor(t, "result=refused_by_target", `reason="alert: bad certificate"`)
		if strings.Contains(log, "result=ok") {
			t.Errorf("the refused connection is also logged as ok:\n%s", log)
		}
	})
	t.Run("target closes right after the handshake", func(t *testing.T) {
		f := testpki.Good(t, testpki.ECDSAP256)
		ln := listenLoopback(t)
		serveEach(t, ln, func(c net.Conn) {
			tc := tls.Server(c, fixtureTLS(f))
			tc.Handshake()
			tc.Close()
		})
		addr, lb, _ := startClient(t, ln.Addr().String(), ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots})
		c := dial(t, addr)
		if got, err := roundTrip(c, "PING\r\n"); err == nil {
			t.Fatalf("got %q from a target that closed", got)
		}
		c.Close()
		lb.waitFor(t, "result=refused_by_target", `reason="closed the connection before sending any data`)
	})
	t.Run("target sends an alert", func(t *testing.T) {
		f := testpki.Good(t, testpki.ECDSAP256)
		cfg := fixtureTLS(f)
		cfg.ClientAuth = tls.RequireAnyClientCert
		tt := startTLSTarget(t, cfg)
		addr, lb, _ := startClient(t, tt.addr, ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots})
		c := dial(t, addr)
		if got, err := roundTrip(c, "PING\r\n"); err == nil {
			t.Fatalf("got %q from a target that wants a client certificate", got)
		}
		c.Close()
		lb.waitFor(t, "result=refused_by_target", `reason="alert: certificate required"`)
	})
	t.Run("local client resets, target reads and never answers", func(t *testing.T) {
		f := testpki.Good(t, testpki.ECDSAP256)
		ln := listenLoopback(t)
		serveEach(t, ln, func(c net.Conn) {
			io.Copy(io.Discard, tls.Server(c, fixtureTLS(f)))
		})
		addr, lb, _ := startClient(t, ln.Addr().String(), ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots})
		c := dial(t, addr)
		c.Write([]byte("PING\r\n"))
		lb.waitFor(t, "connection established")
		time.Sleep(300 * time.Millisecond) // the PING has reached the target
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // the local client aborts with a reset
		log := lb.waitFor(t, "bytes_up=6")
		if strings.Contains(log, "refused_by_target") {
			t.Errorf("a reset by the local client is logged as a refusal by the target:\n%s", log)
		}
	})
	t.Run("client ends first, target closes without answering", func(t *testing.T) {
		f := testpki.Good(t, testpki.ECDSAP256)
		tt := startTLSTarget(t, fixtureTLS(f))
		addr, lb, _ := startClient(t, tt.addr, ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots})
		c := dial(t, addr)
		c.(*net.TCPConn).CloseWrite()
		c.SetDeadline(time.Now().Add(testTimeout))
		if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
			t.Fatalf("read %d bytes, %v", n, err)
		}
		log := lb.waitFor(t, "connection closed", "bytes_down=0")
		if !strings.Contains(log, "result=ok") || strings.Contains(log, "refused_by_target") {
			t.Errorf("a finished exchange is not logged as ok:\n%s", log)
		}
	})
}

// TestClientStartupCheckIsAHandshake: the client tunnel checks its target
// at start with a full TLS handshake in its own configuration, so a
// tlsgate server tunnel there logs no failed handshake, and a target that
// refuses the tunnel's certificate or cannot be verified keeps it not
// ready.
func TestClientStartupCheckIsAHandshake(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	serverAddr, serverLog, s := m.startServer(t, echo, ClientAuthRequire, nil, "uri:spiffe://corp.test/billing")
	t.Run("accepted", func(t *testing.T) {
		billing := m.billing.TLSCertificate()
		_, clientLog, c := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots,
			ClientCertificate: func() (*tls.Certificate, error) { return &billing, nil }})
		clientLog.waitFor(t, "target answers")
		// The server tunnel logs the check's connection one way or the other.
		for deadline := time.Now().Add(testTimeout); ; time.Sleep(5 * time.Millisecond) {
			if l := serverLog.String(); strings.Contains(l, "handshake_failed") || strings.Contains(l, "connection closed") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server tunnel logged nothing about the check:\n%s", serverLog.String())
			}
		}
		if strings.Contains(serverLog.String(), "handshake_failed") {
			t.Errorf("starting a client tunnel shows up as a failed handshake on the server tunnel (failures counted: %v):\n%s",
				counterValue(t, s.m.handshakeFailures.WithLabelValues("peer_closed")), serverLog.String())
		}
		waitReadyz(t, c.m, http.StatusOK)
	})
	t.Run("certificate refused after the handshake", func(t *testing.T) {
		web := m.web.TLSCertificate()
		_, clientLog, c := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots,
			ClientCertificate: func() (*tls.Certificate, error) { return &web, nil }})
		clientLog.waitFor(t, "target does not answer yet", "bad certificate")
		if code := readyz(t, c.m); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz = %d although the target refuses the tunnel's certificate", code)
		}
	})
	t.Run("target not verifiable", func(t *testing.T) {
		other := testpki.Good(t, testpki.ECDSAP256)
		_, clientLog, c := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: other.Roots})
		clientLog.waitFor(t, "target does not answer yet", "TLS handshake with target")
		if code := readyz(t, c.m); code != http.StatusServiceUnavailable {
			t.Errorf("/readyz = %d although the target's certificate cannot be verified", code)
		}
	})
}
