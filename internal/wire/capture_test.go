package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// Captures of real handshakes live in testdata/captures: NAME.client is what
// the client sent, NAME.server what it received, NAME.json what the
// connection itself reported (crypto/tls ConnectionState and key log).
// go test -run Capture -update rewrites them from live connections.
var update = flag.Bool("update", false, "rewrite testdata/captures and the fuzz seed corpora from live handshakes")

// transcript is what a capture must decode to.
type transcript struct {
	Version      uint16 `json:"version"`
	CipherSuite  uint16 `json:"cipher_suite"`
	Group        uint16 `json:"group"`
	ClientRandom string `json:"client_random,omitempty"`
	KeyExchange  string `json:"key_exchange"` // "tls13", "ECDHE", "RSA"
	ServerName   string `json:"server_name,omitempty"`
	ALPN         string `json:"alpn,omitempty"`
}

// tapConn records every byte read and written.
type tapConn struct {
	net.Conn
	mu      sync.Mutex
	in, out bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.in.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.out.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) streams() (in, out []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.in.Bytes()), bytes.Clone(c.out.Bytes())
}

type testCert struct {
	tls     tls.Certificate
	certPEM []byte
	keyPEM  []byte
	pool    *x509.CertPool
}

func mintCert(t testing.TB, rsaKey bool) testCert {
	t.Helper()
	var priv any
	var pub any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, pub = k, &k.PublicKey
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pool:    x509.NewCertPool(),
	}
	if c.tls, err = tls.X509KeyPair(c.certPEM, c.keyPEM); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	c.pool.AddCert(leaf)
	return c
}

// keyLogClientRandom returns the client random from a crypto/tls key log.
func keyLogClientRandom(t testing.TB, log []byte) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			return f[1]
		}
	}
	t.Fatalf("no client random in key log %q", log)
	return ""
}

type goCase struct {
	name   string
	rsa    bool
	max    uint16
	suites []uint16
	groups []tls.CurveID
	kx     string
	alpn   []string
}

var goCases = []goCase{
	{name: "go_tls13", max: tls.VersionTLS13, kx: "tls13", alpn: []string{"h2", "http/1.1"}},
	{name: "go_tls13_p256_hrr", max: tls.VersionTLS13, kx: "tls13", groups: []tls.CurveID{tls.CurveP256}},
	{name: "go_tls12_ecdhe", max: tls.VersionTLS12, kx: "ECDHE", suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, alpn: []string{"http/1.1"}},
	{name: "go_tls12_rsa", rsa: true, max: tls.VersionTLS12, kx: "RSA", suites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
}

// goHandshake runs one crypto/tls handshake on loopback and returns the two
// directions of the stream as the client saw them.
func goHandshake(t *testing.T, c goCase) (client, server []byte, want transcript) {
	t.Helper()
	cert := mintCert(t, c.rsa)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert.tls}, MaxVersion: c.max, CipherSuites: c.suites, CurvePreferences: c.groups, NextProtos: c.alpn}
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(conn, srvCfg)
		if err := s.Handshake(); err != nil {
			done <- err
			return
		}
		if _, err := s.Write([]byte("ping")); err != nil {
			done <- err
			return
		}
		io.Copy(io.Discard, s)
		done <- nil
	}()
	raw, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	tap := &tapConn{Conn: raw}
	var keylog bytes.Buffer
	cliCfg := &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MaxVersion: c.max, CipherSuites: c.suites, KeyLogWriter: &keylog, NextProtos: c.alpn}
	if c.name == "go_tls13_p256_hrr" {
		// Offer X25519 first so that a P-256-only server asks again.
		cliCfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	cl := tls.Client(tap, cliCfg)
	if err := cl.Handshake(); err != nil {
		t.Fatalf("%s: handshake: %v", c.name, err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(cl, buf); err != nil {
		t.Fatalf("%s: read: %v", c.name, err)
	}
	st := cl.ConnectionState()
	cl.Close()
	if err := <-done; err != nil {
		t.Fatalf("%s: server: %v", c.name, err)
	}
	server, client = tap.streams()
	want = transcript{Version: st.Version, CipherSuite: st.CipherSuite, Group: uint16(st.CurveID), ClientRandom: keyLogClientRandom(t, keylog.Bytes()), KeyExchange: c.kx, ServerName: "localhost", ALPN: st.NegotiatedProtocol}
	return client, server, want
}

func saveCapture(t *testing.T, name string, client, server []byte, want transcript) {
	t.Helper()
	if !*update {
		return
	}
	dir := filepath.Join("testdata", "captures")
	js, _ := json.MarshalIndent(want, "", "  ")
	for file, data := range map[string][]byte{name + ".client": client, name + ".server": server, name + ".json": append(js, '\n')} {
		if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCaptureGoHandshakes(t *testing.T) {
	for _, c := range goCases {
		t.Run(c.name, func(t *testing.T) {
			client, server, want := goHandshake(t, c)
			checkTranscript(t, client, server, want)
			saveCapture(t, c.name, client, server, want)
		})
	}
}

// TestCommittedCaptures replays the committed transcripts, so that the
// decoder is checked against real bytes even where no openssl is installed.
func TestCommittedCaptures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "captures", "*.json"))
	if len(files) < 7 {
		t.Fatalf("found %d captures in testdata/captures, want at least 7 (go and openssl, TLS 1.2 and 1.3)", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			var want transcript
			js, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			client, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".client")
			if err != nil {
				t.Fatal(err)
			}
			server, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".server")
			if err != nil {
				t.Fatal(err)
			}
			checkTranscript(t, client, server, want)
		})
	}
}

// readAll returns every message of one direction; a record cut short at the
// very end (the tap stopped reading) is accepted.
func readAll(t *testing.T, stream []byte, version uint16) []*Message {
	t.Helper()
	r := NewReader(bytes.NewReader(stream))
	r.SetVersion(version)
	var msgs []*Message
	for i := 0; i < 1000; i++ {
		m, err := r.Next()
		if err == io.EOF || errors.Is(err, ErrTruncated) {
			return msgs
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(msgs)+1, err)
		}
		msgs = append(msgs, m)
	}
	t.Fatal("more than 1000 messages")
	return nil
}

// checkTranscript decodes both directions and compares with what the
// connection reported; every decoded hello must re-encode to the same bytes.
func checkTranscript(t *testing.T, client, server []byte, want transcript) {
	t.Helper()
	sm := readAll(t, server, 0)
	cm := readAll(t, client, want.Version)
	if len(cm) == 0 || cm[0].Handshake == nil || cm[0].Handshake.Type != TypeClientHello {
		t.Fatalf("client stream does not start with a ClientHello: %+v", cm)
	}
	chRaw := cm[0].Handshake.Bytes()
	ch, err := ParseClientHello(chRaw)
	if err != nil {
		t.Fatalf("ClientHello: %v", err)
	}
	if again, _ := ch.Marshal(); !bytes.Equal(again, chRaw) {
		t.Errorf("ClientHello re-encodes differently")
	}
	if want.ClientRandom != "" && hex.EncodeToString(ch.Random[:]) != want.ClientRandom {
		t.Errorf("client random %x, key log says %s", ch.Random, want.ClientRandom)
	}
	if sni, err := ch.ServerName(); err != nil || sni != want.ServerName {
		t.Errorf("SNI %q (%v), want %q", sni, err, want.ServerName)
	}
	if want.ALPN != "" {
		e, ok := ch.Extension(ExtALPN)
		protos, err := ParseALPN(e.Data)
		if !ok || err != nil || !contains(protos, want.ALPN) {
			t.Errorf("ALPN %q (%v) does not offer %q", protos, err, want.ALPN)
		}
	}
	for _, e := range ch.Extensions {
		if err := decodeKnown(e, false); err != nil {
			t.Errorf("ClientHello %s: %v", e.Type, err)
		}
	}

	if len(sm) == 0 || sm[0].Handshake == nil || sm[0].Handshake.Type != TypeServerHello {
		t.Fatalf("server stream does not start with a ServerHello")
	}
	shIdx := 0
	sh, err := ParseServerHello(sm[0].Handshake.Bytes())
	if err != nil {
		t.Fatalf("ServerHello: %v", err)
	}
	if sh.IsHelloRetryRequest() {
		e, ok := sh.Extension(ExtKeyShare)
		g, err := ParseHRRKeyShare(e.Data)
		if !ok || err != nil || g != want.Group {
			t.Errorf("HelloRetryRequest asks for group %d (%v), connection used %d", g, err, want.Group)
		}
		// The retried hello must now carry a key share for that group.
		var ch2 *ClientHello
		for _, m := range cm[1:] {
			if m.Handshake != nil && m.Handshake.Type == TypeClientHello {
				ch2, err = ParseClientHello(m.Handshake.Bytes())
				break
			}
		}
		if ch2 == nil || err != nil {
			t.Fatalf("no second ClientHello after HelloRetryRequest (%v)", err)
		}
		e, _ = ch2.Extension(ExtKeyShare)
		if ks, err := ParseKeyShares(e.Data); err != nil || len(ks) != 1 || ks[0].Group != want.Group {
			t.Errorf("second ClientHello key shares %+v (%v), want one for %d", ks, err, want.Group)
		}
		for i, m := range sm[1:] {
			if m.Handshake != nil && m.Handshake.Type == TypeServerHello {
				shIdx = i + 1
				break
			}
		}
		if sh, err = ParseServerHello(sm[shIdx].Handshake.Bytes()); err != nil || shIdx == 0 {
			t.Fatalf("no ServerHello after HelloRetryRequest: %v", err)
		}
	}
	if again, _ := sh.Marshal(); !bytes.Equal(again, sm[shIdx].Handshake.Bytes()) {
		t.Errorf("ServerHello re-encodes differently")
	}
	if v, err := sh.SelectedVersion(); err != nil || v != want.Version {
		t.Errorf("version %s (%v), connection says %s", VersionName(v), err, VersionName(want.Version))
	}
	if sh.CipherSuite != want.CipherSuite {
		t.Errorf("suite 0x%04x, connection says 0x%04x", sh.CipherSuite, want.CipherSuite)
	}
	for _, e := range sh.Extensions {
		if err := decodeKnown(e, true); err != nil {
			t.Errorf("ServerHello %s: %v", e.Type, err)
		}
	}
	rest := sm[shIdx+1:]
	if want.KeyExchange == "tls13" {
		e, ok := sh.Extension(ExtKeyShare)
		ks, err := ParseServerKeyShare(e.Data)
		if !ok || err != nil || ks.Group != want.Group {
			t.Errorf("server key share group %d (%v), connection says %d", ks.Group, err, want.Group)
		}
		// After the ServerHello nothing but (dummy) change_cipher_spec and
		// encrypted records may follow.
		for _, m := range rest {
			if m.Handshake != nil || (m.Type != TypeChangeCipherSpec && !m.Encrypted) {
				t.Errorf("TLS 1.3 cleartext %s after ServerHello", m.Type)
			}
		}
		return
	}
	kind := map[string]KeyExchange{"ECDHE": KeyExchangeECDHE, "RSA": KeyExchangeRSA}[want.KeyExchange]
	var seen []HandshakeType
	ccs := false
	for _, m := range rest {
		if m.Type == TypeChangeCipherSpec {
			ccs = true
			if err := ParseChangeCipherSpec(m.Data); err != nil {
				t.Error(err)
			}
			continue
		}
		if m.Handshake == nil {
			if ccs && !m.Encrypted {
				t.Errorf("cleartext %s after change_cipher_spec", m.Type)
			}
			continue
		}
		seen = append(seen, m.Handshake.Type)
		raw := m.Handshake.Bytes()
		var again []byte
		switch m.Handshake.Type {
		case TypeCertificate:
			c, err := ParseCertificate(raw)
			if err != nil || len(c.Certificates) == 0 {
				t.Fatalf("Certificate: %v", err)
			}
			if _, err := x509.ParseCertificate(c.Certificates[0]); err != nil {
				t.Errorf("leaf in Certificate: %v", err)
			}
			again, _ = c.Marshal()
		case TypeServerKeyExchange:
			ske, err := ParseServerKeyExchange(raw, kind, want.Version)
			if err != nil {
				t.Fatalf("ServerKeyExchange: %v", err)
			}
			if ske.Group != want.Group || len(ske.Signature) == 0 {
				t.Errorf("ServerKeyExchange group %d sig %d bytes, connection used group %d", ske.Group, len(ske.Signature), want.Group)
			}
			again, _ = ske.Marshal()
		case TypeServerHelloDone:
			if err := ParseServerHelloDone(raw); err != nil {
				t.Error(err)
			}
			again = MarshalServerHelloDone()
		case TypeCertificateStatus:
			cs, err := ParseCertificateStatus(raw)
			if err != nil {
				t.Fatal(err)
			}
			again, _ = cs.Marshal()
		case TypeNewSessionTicket:
			nst, err := ParseNewSessionTicket(raw)
			if err != nil {
				t.Fatal(err)
			}
			again, _ = nst.Marshal()
		default:
			again = raw
		}
		if !bytes.Equal(again, raw) {
			t.Errorf("%s re-encodes differently", m.Handshake.Type)
		}
	}
	wantSeen := []HandshakeType{TypeCertificate, TypeServerHelloDone}
	if kind == KeyExchangeECDHE {
		wantSeen = []HandshakeType{TypeCertificate, TypeServerKeyExchange, TypeServerHelloDone}
	}
	if got := filterTypes(seen, TypeCertificateStatus, TypeNewSessionTicket); fmt.Sprint(got) != fmt.Sprint(wantSeen) {
		t.Errorf("server's cleartext handshake messages %v, want %v", got, wantSeen)
	}
	if !ccs {
		t.Errorf("no change_cipher_spec from the server")
	}
	// The client's second flight: ClientKeyExchange in clear, then
	// change_cipher_spec and an encrypted Finished.
	var cke *ClientKeyExchange
	clientCCS := false
	for _, m := range cm[1:] {
		switch {
		case m.Type == TypeChangeCipherSpec:
			clientCCS = true
		case m.Handshake != nil && m.Handshake.Type == TypeClientKeyExchange:
			if cke, err = ParseClientKeyExchange(m.Handshake.Bytes(), kind, want.Version); err != nil {
				t.Fatalf("ClientKeyExchange: %v", err)
			}
		case clientCCS && !m.Encrypted:
			t.Errorf("client sent cleartext %s after change_cipher_spec", m.Type)
		}
	}
	if cke == nil || !clientCCS {
		t.Fatalf("client flight lacks ClientKeyExchange or change_cipher_spec")
	}
	if kind == KeyExchangeRSA && len(cke.Data) != 256 {
		t.Errorf("RSA premaster ciphertext of %d bytes, want 256 for a 2048-bit key", len(cke.Data))
	}
	if kind == KeyExchangeECDHE && want.Group == uint16(tls.X25519) && len(cke.Data) != 32 {
		t.Errorf("X25519 client share of %d bytes", len(cke.Data))
	}
}

func filterTypes(ts []HandshakeType, drop ...HandshakeType) []HandshakeType {
	var out []HandshakeType
	for _, t := range ts {
		keep := true
		for _, d := range drop {
			keep = keep && t != d
		}
		if keep {
			out = append(out, t)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeKnown runs the decoder of a known extension, the way inspect does.
func decodeKnown(e Extension, fromServer bool) error {
	var err error
	switch e.Type {
	case ExtServerName:
		_, err = ParseServerName(e.Data)
	case ExtSupportedGroups:
		_, err = ParseSupportedGroups(e.Data)
	case ExtECPointFormats:
		_, err = ParseECPointFormats(e.Data)
	case ExtSignatureAlgorithms, ExtSignatureAlgorithmsCert:
		_, err = ParseSignatureAlgorithms(e.Data)
	case ExtALPN:
		_, err = ParseALPN(e.Data)
	case ExtPSKKeyExchangeModes:
		_, err = ParsePSKKeyExchangeModes(e.Data)
	case ExtRenegotiationInfo:
		_, err = ParseRenegotiationInfo(e.Data)
	case ExtSCT:
		if fromServer {
			_, err = ParseSCTList(e.Data)
		}
	case ExtStatusRequest:
		if !fromServer {
			_, err = ParseStatusRequest(e.Data)
		}
	case ExtSupportedVersions:
		if fromServer {
			_, err = ParseSelectedVersion(e.Data)
		} else {
			_, err = ParseSupportedVersions(e.Data)
		}
	case ExtKeyShare:
		if !fromServer {
			_, err = ParseKeyShares(e.Data)
		} else if len(e.Data) == 2 {
			_, err = ParseHRRKeyShare(e.Data)
		} else {
			_, err = ParseServerKeyShare(e.Data)
		}
	case ExtPreSharedKey:
		if fromServer {
			_, err = ParseSelectedPSK(e.Data)
		} else {
			_, err = ParsePreSharedKey(e.Data)
		}
	case ExtHeartbeat:
		_, err = ParseHeartbeat(e.Data)
	case ExtCookie:
		_, err = ParseCookie(e.Data)
	}
	return err
}

// openssl runs an openssl command in the background for the test's life.
func startOpenSSL(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	bin := testtool.Need(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pw.Close()
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
	})
	return cmd, &out
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func writeCert(t *testing.T, c testCert) (certFile, keyFile string) {
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, c.certPEM, 0o600)
	os.WriteFile(keyFile, c.keyPEM, 0o600)
	return
}

// TestCaptureOpenSSLServer decodes what openssl s_server sends to a
// crypto/tls client.
func TestCaptureOpenSSLServer(t *testing.T) {
	cases := []struct {
		name   string
		rsa    bool
		args   []string
		max    uint16
		suites []uint16
		kx     string
	}{
		{"openssl_server_tls13", false, []string{"-tls1_3"}, tls.VersionTLS13, nil, "tls13"},
		{"openssl_server_tls12_ecdhe", true, []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, "ECDHE"},
		{"openssl_server_tls12_rsa", true, []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}, "RSA"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert := mintCert(t, c.rsa)
			certFile, keyFile := writeCert(t, cert)
			port := freePort(t)
			args := append([]string{"s_server", "-accept", "127.0.0.1:" + port, "-cert", certFile, "-key", keyFile, "-naccept", "1", "-ign_eof"}, c.args...)
			_, out := startOpenSSL(t, args...)
			var raw net.Conn
			var err error
			for i := 0; i < 50; i++ {
				if raw, err = net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("openssl s_server did not listen: %v\n%s", err, out)
			}
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			tap := &tapConn{Conn: raw}
			var keylog bytes.Buffer
			cl := tls.Client(tap, &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MaxVersion: c.max, CipherSuites: c.suites, KeyLogWriter: &keylog})
			if err := cl.Handshake(); err != nil {
				t.Fatalf("handshake with openssl: %v\n%s", err, out)
			}
			// A round trip makes sure TLS 1.3 post-handshake messages are in.
			cl.Write([]byte("x\n"))
			cl.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			cl.Read(make([]byte, 1))
			st := cl.ConnectionState()
			cl.Close()
			server, client := tap.streams()
			want := transcript{Version: st.Version, CipherSuite: st.CipherSuite, Group: uint16(st.CurveID), ClientRandom: keyLogClientRandom(t, keylog.Bytes()), KeyExchange: c.kx, ServerName: "localhost"}
			checkTranscript(t, client, server, want)
			saveCapture(t, c.name, client, server, want)
		})
	}
}

// TestCaptureOpenSSLClient decodes what openssl s_client sends to a
// crypto/tls server.
func TestCaptureOpenSSLClient(t *testing.T) {
	cases := []struct {
		name string
		args []string
		kx   string
	}{
		{"openssl_client_tls13", []string{"-tls1_3", "-alpn", "h2,http/1.1", "-status"}, "tls13"},
		{"openssl_client_tls12", []string{"-tls1_2", "-alpn", "http/1.1", "-status"}, "ECDHE"},
	}
	cert := mintCert(t, false)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_, out := startOpenSSL(t, append([]string{"s_client", "-connect", ln.Addr().String(), "-servername", "api.example", "-ign_eof"}, c.args...)...)
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
			raw, err := ln.Accept()
			if err != nil {
				t.Fatalf("openssl s_client did not connect: %v\n%s", err, out)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			tap := &tapConn{Conn: raw}
			s := tls.Server(tap, &tls.Config{Certificates: []tls.Certificate{cert.tls}, NextProtos: []string{"http/1.1"}})
			if err := s.Handshake(); err != nil {
				t.Fatalf("handshake with openssl: %v\n%s", err, out)
			}
			st := s.ConnectionState()
			s.Close()
			client, server := tap.streams()
			want := transcript{Version: st.Version, CipherSuite: st.CipherSuite, Group: uint16(st.CurveID), KeyExchange: c.kx, ServerName: "api.example", ALPN: "http/1.1"}
			checkTranscript(t, client, server, want)
			ch, _ := ParseClientHello(readAll(t, client, 0)[0].Handshake.Bytes())
			if _, ok := ch.Extension(ExtStatusRequest); !ok {
				t.Errorf("openssl -status sent no status_request")
			}
			saveCapture(t, c.name, client, server, want)
		})
	}
}
