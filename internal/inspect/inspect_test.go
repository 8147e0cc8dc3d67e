package inspect

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// server is a crypto/tls server on loopback that records what it saw.
type server struct {
	addr   string
	keylog bytes.Buffer
	mu     sync.Mutex
	states []tls.ConnectionState
	// appBytes counts application bytes the server read after handshakes.
	appBytes int
}

// serve runs a TLS server with cfg that answers one HTTP request per
// connection with an HSTS header. It stops with the test.
func serve(t *testing.T, cfg *tls.Config) *server {
	t.Helper()
	s := &server{}
	cfg = cfg.Clone()
	cfg.KeyLogWriter = &lockedWriter{mu: &s.mu, w: &s.keylog}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		s.mu.Lock()
		s.states = append(s.states, cs)
		s.mu.Unlock()
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					return
				}
				br := bufio.NewReader(tc)
				req, err := http.ReadRequest(br)
				if err != nil {
					s.mu.Lock()
					s.appBytes += br.Buffered()
					s.mu.Unlock()
					return
				}
				s.mu.Lock()
				s.appBytes++
				s.mu.Unlock()
				body := `{"ok":true}`
				io.WriteString(tc, "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
				_ = req
			}()
		}
	}()
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+n/10)) + string(rune('0'+n%10)))
}

// lastState returns the server's view of its last handshake. The client
// may finish first, so wait for it, boundedly.
func (s *server) lastState(t *testing.T) tls.ConnectionState {
	for i := 0; i < 100; i++ {
		s.mu.Lock()
		if n := len(s.states); n > 0 {
			defer s.mu.Unlock()
			return s.states[n-1]
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server saw no completed handshake")
	return tls.ConnectionState{}
}

// clientRandomFromKeyLog returns the client random of the key log's last
// connection, as the server recorded it.
func (s *server) clientRandom(t *testing.T) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := ""
	for _, l := range strings.Split(s.keylog.String(), "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			last = f[1]
		}
	}
	if last == "" {
		t.Fatal("empty key log")
	}
	return last
}

func run(t *testing.T, o Options) (*Trace, error) {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	return Run(context.Background(), o)
}

func fixtureOptions(t *testing.T, f *testpki.Fixture, addr string) Options {
	files := f.WriteFiles(t, t.TempDir())
	o := Options{Target: addr, CAFile: files.Root}
	if net.ParseIP(f.ServerName) == nil {
		o.ServerName = f.ServerName
	}
	return o
}

func TestGoodFixturesVerify(t *testing.T) {
	for _, f := range testpki.GoodFixtures(t) {
		if f.Usage != 0 && f.Usage != 1 { // x509.ExtKeyUsageServerAuth is 1
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			cert := f.TLSCertificate()
			cert.OCSPStaple = f.OCSP
			s := serve(t, &tls.Config{Certificates: []tls.Certificate{cert}})
			tr, err := run(t, fixtureOptions(t, f, s.addr))
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Verification.Verified {
				t.Fatalf("good fixture not verified: %s", tr.Verification.Reason)
			}
			if n := len(tr.Certificates.Chain); n != len(f.Chain) {
				t.Errorf("chain of %d certificates, server sent %d", n, len(f.Chain))
			}
			leaf := tr.Certificates.Chain[0]
			if leaf.Subject != f.Leaf().Subject.String() || leaf.DaysLeft < 1 || leaf.SHA256 == "" || leaf.KeyBits == 0 {
				t.Errorf("leaf described as %+v", leaf)
			}
			if f.OCSP != nil && (tr.Certificates.OCSP == nil || tr.Certificates.OCSP.Status != "good") {
				t.Errorf("stapled OCSP %+v, want good", tr.Certificates.OCSP)
			}
			if len(tr.Verification.VerifiedChain) != 3 {
				t.Errorf("verified chain %q, want leaf, intermediate, root", tr.Verification.VerifiedChain)
			}
		})
	}
}

func TestBadFixturesReported(t *testing.T) {
	want := map[string]struct{ code, text string }{
		"expired":              {"expired", "expired on"},
		"not-yet-valid":        {"not_yet_valid", "not valid until"},
		"wrong-host":           {"hostname_mismatch", `not valid for "localhost" (valid for`},
		"self-signed":          {"self_signed", "self-signed"},
		"untrusted-root":       {"unknown_authority", "not trusted"},
		"missing-intermediate": {"incomplete_chain", "was not sent"},
		"cn-only":              {"cn_only", "Subject Alternative Name"},
		"sha1-signed":          {"weak_signature", "SHA1"},
		"rsa-1024":             {"weak_key", "1024-bit RSA"},
		"wrong-eku":            {"wrong_usage", "serverAuth"},
		"revoked":              {"revoked", "revoked"},
	}
	for _, f := range testpki.BadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			w, ok := want[f.Name]
			if !ok {
				t.Fatalf("no expectation for bad fixture %q (%s)", f.Name, f.Defect)
			}
			cert := f.TLSCertificate()
			cert.OCSPStaple = f.OCSP
			s := serve(t, &tls.Config{Certificates: []tls.Certificate{cert}})
			o := fixtureOptions(t, f, s.addr)
			o.Request = true
			tr, err := run(t, o)
			if err != nil {
				t.Fatal(err)
			}
			v := tr.Verification
			if v.Verified || v.Code != w.code || !strings.Contains(v.Reason, w.text) {
				t.Errorf("verified=%v code=%q reason=%q, want code %q mentioning %q", v.Verified, v.Code, v.Reason, w.code, w.text)
			}
			// The trace still completed, and nothing was sent.
			if tr.ServerHello == nil || tr.Finished == nil {
				t.Error("trace stopped at the verification failure")
			}
			if tr.HTTP == nil || tr.HTTP.Sent || tr.HTTP.NotSentReason == "" {
				t.Errorf("request over an unverified connection: %+v", tr.HTTP)
			}
			var text bytes.Buffer
			tr.WriteText(&text, TextOptions{})
			if !strings.Contains(text.String(), "would refuse this connection") {
				t.Errorf("text output does not say the connection would be refused:\n%s", text.String())
			}
		})
	}
}

func TestRequestNeverSentUnverified(t *testing.T) {
	f := testpki.SelfSigned(t)
	s := serve(t, &tls.Config{Certificates: []tls.Certificate{f.TLSCertificate()}})
	tr, err := run(t, Options{Target: s.addr, ServerName: "localhost", Request: true})
	if err != nil {
		t.Fatal(err)
	}
	if tr.HTTP.Sent {
		t.Fatal("request sent")
	}
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appBytes != 0 {
		t.Fatalf("server received %d application bytes over an unverified connection", s.appBytes)
	}
}

// TestAgainstServerView checks the values inspect reads off the wire
// against what the server itself negotiated and logged.
func TestAgainstServerView(t *testing.T) {
	cases := []struct {
		name    string
		key     testpki.KeyType
		cfg     *tls.Config
		version uint16
		method  string
		fs      bool
		rtt     int
		hrr     bool
	}{
		{name: "tls13", cfg: &tls.Config{}, version: tls.VersionTLS13, method: "ECDHE+ML-KEM", fs: true, rtt: 1},
		{name: "tls13-hrr", cfg: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP384}}, version: tls.VersionTLS13, method: "ECDHE", fs: true, rtt: 2, hrr: true},
		{name: "tls12-ecdhe", cfg: &tls.Config{MaxVersion: tls.VersionTLS12}, version: tls.VersionTLS12, method: "ECDHE", fs: true, rtt: 2},
		{name: "tls12-rsa", key: testpki.RSA2048, cfg: &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}, version: tls.VersionTLS12, method: "RSA", fs: false, rtt: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := testpki.Good(t, c.key)
			cfg := c.cfg.Clone()
			cfg.Certificates = []tls.Certificate{f.TLSCertificate()}
			s := serve(t, cfg)
			tr, err := run(t, fixtureOptions(t, f, s.addr))
			if err != nil {
				t.Fatal(err)
			}
			st := s.lastState(t)
			if tr.ClientHello.Random != s.clientRandom(t) {
				t.Errorf("client random %s, server key log says %s", tr.ClientHello.Random, s.clientRandom(t))
			}
			if tr.ServerHello.CipherSuite.ID != st.CipherSuite || tr.ServerHello.Version != map[uint16]string{tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3"}[st.Version] {
				t.Errorf("suite %v version %s, server negotiated 0x%04x %x", tr.ServerHello.CipherSuite, tr.ServerHello.Version, st.CipherSuite, st.Version)
			}
			if st.Version != c.version {
				t.Fatalf("server negotiated %x, test wants %x", st.Version, c.version)
			}
			k := tr.KeyExchange
			if k.Method != c.method || k.ForwardSecrecy != c.fs {
				t.Errorf("key exchange %s forward secrecy %v, want %s %v", k.Method, k.ForwardSecrecy, c.method, c.fs)
			}
			if c.method != "RSA" && (k.Group == nil || k.Group.ID != uint16(st.CurveID)) {
				t.Errorf("group %+v, server used %v", k.Group, st.CurveID)
			}
			if c.method == "RSA" && k.ClientShareLen != 256 {
				t.Errorf("RSA-encrypted premaster of %d bytes, want 256", k.ClientShareLen)
			}
			if (tr.HelloRetryRequest != nil) != c.hrr {
				t.Errorf("HelloRetryRequest %+v, want %v", tr.HelloRetryRequest, c.hrr)
			}
			if c.hrr && (tr.HelloRetryRequest.Group == nil || tr.HelloRetryRequest.Group.ID != uint16(tls.CurveP384) || len(tr.HelloRetryRequest.FirstKeyShares) == 0 || !tr.ClientHello.Retried) {
				t.Errorf("HelloRetryRequest %+v, retried hello %v", tr.HelloRetryRequest, tr.ClientHello.Retried)
			}
			if tr.Finished.RoundTrips != c.rtt {
				t.Errorf("%d round trips, want %d", tr.Finished.RoundTrips, c.rtt)
			}
			if tr.Certificates.DecodedFromWire != (c.version == tls.VersionTLS12) || tr.Certificates.Chain[0].SerialNumber != fmt.Sprintf("%X", f.Leaf().SerialNumber) {
				t.Errorf("chain decoded from the wire: %v, leaf serial %s", tr.Certificates.DecodedFromWire, tr.Certificates.Chain[0].SerialNumber)
			}
			if tr.Certificates.TravelledEncrypted != (c.version == tls.VersionTLS13) {
				t.Errorf("certificate travelled encrypted = %v in %x", tr.Certificates.TravelledEncrypted, c.version)
			}
			checkRecords(t, tr, c.version)
		})
	}
}

// checkRecords checks the record list: cleartext hellos first, encryption
// from the point the protocol says, and the leaf certificate readable on the
// wire in TLS 1.2 only.
func checkRecords(t *testing.T, tr *Trace, version uint16) {
	t.Helper()
	if len(tr.Records) < 4 {
		t.Fatalf("only %d records", len(tr.Records))
	}
	first := tr.Records[0]
	if first.Direction != "client_to_server" || first.Encrypted || len(first.Messages) == 0 || first.Messages[0] != "ClientHello" {
		t.Errorf("first record %+v, want a cleartext ClientHello", first)
	}
	f := tr.Finished
	if f.ClientEncryptedFrom == 0 || f.ServerEncryptedFrom == 0 {
		t.Fatalf("no encrypted records: %+v", f)
	}
	sawCert := false
	for _, r := range tr.Records {
		for _, m := range r.Messages {
			if m == "Certificate" {
				sawCert = true
			}
		}
		from := f.ClientEncryptedFrom
		if r.Direction == "server_to_client" {
			from = f.ServerEncryptedFrom
		}
		if r.Index >= from && !r.Encrypted && r.ContentType != "change_cipher_spec" {
			t.Errorf("record %d (%s) after encryption started is plaintext", r.Index, r.ContentType)
		}
	}
	if sawCert != (version == tls.VersionTLS12) {
		t.Errorf("Certificate message visible on the wire: %v in version %x", sawCert, version)
	}
}

func TestRequestShowsHSTS(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	s := serve(t, &tls.Config{Certificates: []tls.Certificate{f.TLSCertificate()}})
	o := fixtureOptions(t, f, "https://"+s.addr+"/health")
	o.Request = true
	tr, err := run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	h := tr.HTTP
	if !h.Sent || h.Status != 200 || h.HSTS != "max-age=63072000" || !strings.HasPrefix(h.Request, "GET /health HTTP/1.1") {
		t.Errorf("HTTP %+v", h)
	}
	// The request and response travelled encrypted: no record after the
	// handshake shows them.
	for _, r := range tr.Records {
		if strings.Contains(r.ASCII, "GET /") || strings.Contains(r.ASCII, "HTTP/1.1") {
			t.Errorf("record %d shows HTTP in clear: %q", r.Index, r.ASCII)
		}
	}
}

func TestHandshakeFailureIsAConnectionError(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	s := serve(t, &tls.Config{Certificates: []tls.Certificate{f.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
	o := fixtureOptions(t, f, s.addr)
	o.Version = tls.VersionTLS13
	tr, err := run(t, o)
	var ce *ConnectionError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a ConnectionError", err)
	}
	if tr == nil || tr.ClientHello == nil || !strings.Contains(tr.Error, "protocol_version") {
		t.Fatalf("trace %+v", tr)
	}
	last := tr.Records[len(tr.Records)-1]
	if last.ContentType != "alert" || !strings.Contains(strings.Join(last.Messages, ""), "protocol_version") {
		t.Errorf("last record %+v, want the server's protocol_version alert", last)
	}

	// Nothing listening: a connection error too.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := run(t, Options{Target: addr}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "cannot connect to "+addr) {
		t.Errorf("closed port: %v", err)
	}
	// A plain HTTP server on a TLS target.
	hs := httptest.NewServer(http.NotFoundHandler())
	defer hs.Close()
	if _, err := run(t, Options{Target: strings.TrimPrefix(hs.URL, "http://")}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "inspect http://") {
		t.Errorf("plain HTTP port: %v", err)
	}
}

func TestPlainHTTP(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"card":"4111 1111 1111 1111","cvc":"123"}`)
	}))
	defer api.Close()
	tr, err := run(t, Options{Target: api.URL + "/pay"})
	if err != nil {
		t.Fatal(err)
	}
	h := tr.HTTP
	if tr.Mode != "http" || !h.ReadableOnWire || h.RedirectsToHTTPS || h.Status != 200 || !strings.Contains(h.BodyExcerpt, "4111 1111 1111 1111") {
		t.Errorf("HTTP %+v", h)
	}
	wire := ""
	for _, r := range tr.Records {
		wire += r.ASCII
	}
	if !strings.Contains(wire, "GET /pay HTTP/1.1") || !strings.Contains(wire, `"card":"4111 1111 1111 1111"`) {
		t.Errorf("request not visible in the records: %q", wire)
	}
	var text bytes.Buffer
	tr.WriteText(&text, TextOptions{Wire: true})
	for _, s := range []string{"4111 1111 1111 1111", "readable by anyone on the path", "✘ no:"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, text.String())
		}
	}

	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+r.URL.Path, http.StatusPermanentRedirect)
	}))
	defer redirect.Close()
	tr, err = run(t, Options{Target: redirect.URL + "/pay"})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.HTTP.RedirectsToHTTPS || !strings.HasPrefix(tr.HTTP.Location, "https://") {
		t.Errorf("redirect not seen: %+v", tr.HTTP)
	}
}

func TestJSONSchema(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	s := serve(t, &tls.Config{Certificates: []tls.Certificate{f.TLSCertificate()}, MaxVersion: tls.VersionTLS12})
	tr, err := run(t, fixtureOptions(t, f, s.addr))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(b, &doc)
	if doc["schema_version"] != float64(1) || doc["mode"] != "tls" {
		t.Errorf("schema_version %v mode %v", doc["schema_version"], doc["mode"])
	}
	for _, k := range []string{"client_hello", "server_hello", "certificates", "verification", "key_exchange", "finished", "records"} {
		if doc[k] == nil {
			t.Errorf("JSON lacks %q", k)
		}
	}
	recs := doc["records"].([]any)
	plain, enc := 0, 0
	for _, r := range recs {
		m := r.(map[string]any)
		if _, ok := m["encrypted"]; !ok {
			t.Fatalf("record without encrypted field: %v", m)
		}
		if m["encrypted"] == true {
			enc++
		} else {
			plain++
		}
	}
	if plain == 0 || enc == 0 {
		t.Errorf("%d plaintext and %d encrypted records", plain, enc)
	}
}

func TestParseTarget(t *testing.T) {
	good := map[string]string{
		"https://example.com":           "https example.com 443 /",
		"example.com:8443":              "https example.com 8443 /",
		"http://localhost:8080/a?b=c":   "http localhost 8080 /a?b=c",
		"[::1]:443":                     "https ::1 443 /",
		"https://api.example/v1/health": "https api.example 443 /v1/health",
	}
	for in, want := range good {
		tg, err := ParseTarget(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := strings.Join([]string{tg.Scheme, tg.Host, tg.Port, tg.Path}, " "); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"example.com", "ftp://example.com", "https://", "https://u:p@example.com", "example.com:99999", "https://example.com:0"} {
		var ue *UsageError
		if _, err := ParseTarget(in); !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a usage error", in, err)
		}
	}
}

func TestClientCertificate(t *testing.T) {
	srv := testpki.Good(t, testpki.ECDSAP256)
	client := testpki.Client(t)
	cfiles := client.WriteFiles(t, t.TempDir())
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		s := serve(t, &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: client.Roots, MaxVersion: version})
		o := fixtureOptions(t, srv, s.addr)

		// Without a certificate the server refuses, and inspect says what to pass.
		tr, err := run(t, o)
		var ce *ConnectionError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--cert and --key") {
			t.Errorf("%x without client certificate: %v", version, err)
		}
		if tr == nil || tr.ClientAuth == nil || !tr.ClientAuth.Requested || tr.ClientAuth.Sent != "" || tr.ClientAuth.Refused == "" {
			t.Errorf("%x client auth %+v", version, tr.ClientAuth)
		}

		// With one, it verifies and the trace names it.
		o.ClientCertFile, o.ClientKeyFile = cfiles.Chain, cfiles.Key
		o.Request = true
		tr, err = run(t, o)
		if err != nil {
			t.Fatalf("%x with client certificate: %v", version, err)
		}
		if !strings.Contains(tr.ClientAuth.Sent, "billing") || len(tr.ClientAuth.AcceptableCAs) != 1 || tr.HTTP.Status != 200 {
			t.Errorf("%x client auth %+v, HTTP %+v", version, tr.ClientAuth, tr.HTTP)
		}
		if got := s.lastState(t); len(got.PeerCertificates) == 0 {
			t.Errorf("%x: server received no client certificate", version)
		}
	}
	// A key without a certificate is a usage error.
	var ue *UsageError
	if _, err := Run(context.Background(), Options{Target: "localhost:1", ClientKeyFile: cfiles.Key}); !errors.As(err, &ue) {
		t.Errorf("--key alone: %v", err)
	}
}
