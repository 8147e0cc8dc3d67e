package tunnel

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"

	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

func fixtureTLS(f *testpki.Fixture) *tls.Config {
	c := f.TLSCertificate()
	c.OCSPStaple = f.OCSP
	return &tls.Config{Certificates: []tls.Certificate{c}}
}

func pinOf(f *testpki.Fixture) string {
	sum := sha256.Sum256(f.Leaf().RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

func startClient(t *testing.T, target string, cfg ClientConfig) (string, *logBuffer, *Client) {
	t.Helper()
	opts, lb := testOptions(t, target)
	cfg.Options = opts
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, c.Serve)
	return addr, lb, c
}

func TestClientRelaysToVerifiedTarget(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	tt := startTLSTarget(t, fixtureTLS(f))
	addr, lb, _ := startClient(t, tt.addr, ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots, Pins: []string{pinOf(f)}})

	c := dial(t, addr)
	got, err := roundTrip(c, "PING\r\n")
	if err != nil || got != "PING\r\n" {
		t.Fatalf("round trip through the tunnel: %q, %v", got, err)
	}
	c.Close()
	log := lb.waitFor(t, "connection closed", "bytes_up=6", "bytes_down=6")
	for _, want := range []string{`tls_version="TLS 1.`, "cipher_suite=TLS_", "peer=localhost", "result=ok"} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %q:\n%s", want, log)
		}
	}
	if _, app, _ := tt.captured(); string(app) != "PING\r\n" {
		t.Errorf("target received %q", app)
	}
}

// TestClientRefusesUntrustworthyTargets sends a secret into the tunnel
// towards targets that must not be trusted: the tunnel closes the
// connection, logs why, and the target never sees the secret, neither
// decrypted nor on the wire.
func TestClientRefusesUntrustworthyTargets(t *testing.T) {
	good := testpki.Good(t, testpki.ECDSAP256)
	other := testpki.Good(t, testpki.ECDSAP256)
	for _, tc := range []struct {
		f      *testpki.Fixture
		pin    string
		reason string
	}{
		{f: testpki.Expired(t), reason: "expired"},
		{f: testpki.NotYetValid(t), reason: "not_yet_valid"},
		{f: testpki.WrongHost(t), reason: "hostname_mismatch"},
		{f: testpki.CNOnly(t), reason: "cn_only"},
		{f: testpki.UntrustedRoot(t), reason: "unknown_authority"},
		{f: testpki.SelfSigned(t), reason: "self_signed"},
		{f: testpki.MissingIntermediate(t), reason: "incomplete_chain"},
		{f: testpki.WrongEKU(t), reason: "wrong_usage"},
		{f: testpki.SHA1Signed(t), reason: "weak_signature"},
		{f: testpki.WeakKey(t), reason: "weak_key"},
		{f: testpki.Revoked(t), reason: "revoked"},
		{f: good, pin: pinOf(other), reason: "pin_mismatch"},
	} {
		name := tc.f.Name
		if tc.pin != "" {
			name = "pin-mismatch"
		}
		t.Run(name, func(t *testing.T) {
			tt := startTLSTarget(t, fixtureTLS(tc.f))
			cfg := ClientConfig{ServerName: tc.f.ServerName, RootCAs: tc.f.Roots}
			if tc.pin != "" {
				cfg.Pins = []string{tc.pin}
			}
			addr, lb, c := startClient(t, tt.addr, cfg)
			conn := dial(t, addr)
			secret := "AUTH s3cr3t-password\r\n"
			conn.Write([]byte(secret))
			expectClosed(t, conn)
			lb.waitFor(t, "TLS handshake failed", "reason="+tc.reason)

			raw, app, ok := tt.captured()
			if ok != 0 || len(app) != 0 {
				t.Errorf("target completed %d handshakes and received %q", ok, app)
			}
			if bytes.Contains(raw, []byte("s3cr3t")) {
				t.Error("the secret reached the target in clear")
			}
			if len(raw) == 0 || raw[0] != 0x16 {
				t.Errorf("target capture does not start with a TLS handshake record: % x", raw[:min(len(raw), 8)])
			}
			if got := counterValue(t, c.m.handshakeFailures.WithLabelValues(tc.reason)); got != 1 {
				t.Errorf("handshake failures{reason=%s} = %v, want 1", tc.reason, got)
			}
		})
	}
}

// TestClientNeverFallsBackToPlaintext points the tunnel at a service that
// does not speak TLS: nothing but a ClientHello may reach it.
func TestClientNeverFallsBackToPlaintext(t *testing.T) {
	ln := listenLoopback(t)
	// Every connection the tunnel makes (its check at start, the
	// prober's, the client's) reports what it sent.
	got := make(chan []byte, 64)
	serveEach(t, ln, func(c net.Conn) {
		var all []byte
		buf := make([]byte, 4096)
		for {
			c.SetReadDeadline(timeNowPlus())
			n, err := c.Read(buf)
			all = append(all, buf[:n]...)
			if n > 0 && len(all) >= 5 {
				// Answer like a plaintext service would.
				c.Write([]byte("-ERR unknown command\r\n"))
			}
			if err != nil {
				break
			}
		}
		select {
		case got <- all:
		default:
		}
	})
	f := testpki.Good(t, testpki.ECDSAP256)
	addr, lb, _ := startClient(t, ln.Addr().String(), ClientConfig{ServerName: "localhost", RootCAs: f.Roots})
	conn := dial(t, addr)
	conn.Write([]byte("AUTH s3cr3t\r\n"))
	expectClosed(t, conn)
	lb.waitFor(t, "reason=not_tls")
	for i := 0; ; i++ {
		var raw []byte
		select {
		case raw = <-got:
		case <-time.After(100 * time.Millisecond):
			if i == 0 {
				t.Fatal("the plaintext service saw no connection")
			}
			return
		}
		if bytes.Contains(raw, []byte("s3cr3t")) || len(raw) == 0 || raw[0] != 0x16 {
			t.Errorf("plaintext service received %q; want only a TLS ClientHello", raw)
		}
	}
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{Options: Options{Target: "no-port"}}, "want HOST:PORT"},
		{ClientConfig{Options: Options{Target: ":443"}}, "want HOST:PORT"},
		{ClientConfig{Options: Options{Target: "a.test:443"}, Pins: []string{"sha256/short"}}, `pin "sha256/short"`},
	} {
		if _, err := NewClient(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient(%+v) = %v; want error containing %q", tc.cfg, err, tc.want)
		}
	}
	c, err := NewClient(ClientConfig{Options: Options{Target: "api.example.test:443"}, BaseTLS: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}})
	if err != nil {
		t.Fatal(err)
	}
	// A base configuration cannot switch verification off: the tunnel's
	// own VerifyConnection is always installed (TestClientRefuses... proves
	// it refuses).
	if tc := c.TLSConfig(); tc.VerifyConnection == nil || tc.MinVersion < tls.VersionTLS12 || tc.ServerName != "api.example.test" {
		t.Errorf("client TLS config skips verification or allows old versions: %+v", tc)
	}
}

func TestCheckClientListen(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:9000", false, true},
		{"[::1]:9000", false, true},
		{"localhost:9000", false, true},
		{"127.0.0.2:9000", false, true},
		{":9000", false, false},
		{"0.0.0.0:9000", false, false},
		{"192.0.2.1:9000", false, false},
		{"192.0.2.1:9000", true, true},
		{"[::]:9000", true, true},
		{"9000", false, false},
	} {
		err := CheckClientListen(tc.addr, tc.remote)
		if (err == nil) != tc.ok {
			t.Errorf("CheckClientListen(%q, %v) = %v; want ok=%v", tc.addr, tc.remote, err, tc.ok)
		}
		if err != nil && tc.addr != "9000" && !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("error %q does not say how to proceed", err)
		}
	}
}

// TestClientAcceptsGoodTargets relays to every kind of good server the
// fixtures have: each key type, a wildcard name, an IP address, and a good
// OCSP staple.
func TestClientAcceptsGoodTargets(t *testing.T) {
	for _, f := range testpki.GoodFixtures(t) {
		if f.Usage != x509.ExtKeyUsageServerAuth {
			continue // the client certificate fixture
		}
		t.Run(f.Name, func(t *testing.T) {
			tt := startTLSTarget(t, fixtureTLS(f))
			// The target is dialled at 127.0.0.1 and verified for the
			// fixture's name (127.0.0.1 itself for the IP fixture).
			addr, lb, _ := startClient(t, tt.addr, ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots})
			c := dial(t, addr)
			if got, err := roundTrip(c, "PING\r\n"); err != nil || got != "PING\r\n" {
				t.Fatalf("through the tunnel: %q, %v\n%s", got, err, lb.String())
			}
		})
	}
}

func TestProfileRefusesLegacySuites(t *testing.T) {
	for _, name := range []string{"modern", "intermediate", ""} {
		if _, err := Profile(name); err != nil {
			t.Errorf("Profile(%q): %v", name, err)
		}
	}
	if _, err := Profile("old"); err == nil || !strings.Contains(err.Error(), "use modern or intermediate") {
		t.Errorf(`Profile("old") = %v; want a refusal naming the usable profiles`, err)
	}
}

// TestClientOffersALPN passes --alpn to the target and logs what was agreed.
func TestClientOffersALPN(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	cfg := fixtureTLS(f)
	cfg.NextProtos = []string{"h2", "http/1.1"}
	tt := startTLSTarget(t, cfg)
	addr, lb, _ := startClient(t, tt.addr, ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots, ALPN: []string{"http/1.1"}})
	c := dial(t, addr)
	if _, err := roundTrip(c, "GET / HTTP/1.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	lb.waitFor(t, "alpn=http/1.1")
}
