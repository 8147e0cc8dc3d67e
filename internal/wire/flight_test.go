package wire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// dheFlight is a TLS 1.2 server flight from openssl s_server answering a
// ClientHello built here that offers only DHE-RSA, with a client
// certificate requested: ServerHello, Certificate, ServerKeyExchange (DHE
// parameters), CertificateRequest, ServerHelloDone. crypto/tls offers no
// DHE, so only a hello of our own can get this flight.
var dheFlight = filepath.Join("testdata", "captures", "partial", "openssl_server_tls12_dhe_certreq.server")

func dheHello() *ClientHello {
	h := &ClientHello{Version: VersionTLS12, CipherSuites: []uint16{0x009e /* TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 */}, CompressionMethods: []uint8{0},
		Extensions: []Extension{
			ServerNameExtension("localhost"),
			SignatureAlgorithmsExtension(ExtSignatureAlgorithms, []uint16{0x0804, 0x0401}),
			RenegotiationInfoExtension(nil),
			EmptyExtension(ExtExtendedMasterSecret),
		}}
	rand.Read(h.Random[:])
	return h
}

func TestOpenSSLDHEFlight(t *testing.T) {
	cert := mintCert(t, true)
	certFile, keyFile := writeCert(t, cert)
	port := freePort(t)
	_, out := startOpenSSL(t, "s_server", "-accept", "127.0.0.1:"+port, "-cert", certFile, "-key", keyFile, "-naccept", "1",
		"-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256", "-verify", "1")
	var conn net.Conn
	var err error
	for i := 0; i < 50; i++ {
		if conn, err = net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("openssl s_server did not listen: %v\n%s", err, out)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	hello, _ := dheHello().Records(VersionTLS10, 0)
	if _, err := conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	// Read records until ServerHelloDone, boundedly.
	var flight bytes.Buffer
	rr := NewRecordReader(io.TeeReader(conn, &flight))
	r := &Reader{rr: rr}
	for i := 0; i < 20; i++ {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("after %d messages: %v\n%s", i, err, out)
		}
		if m.Handshake != nil && m.Handshake.Type == TypeServerHelloDone {
			break
		}
	}
	checkDHEFlight(t, flight.Bytes())
	if *update {
		os.MkdirAll(filepath.Dir(dheFlight), 0o755)
		if err := os.WriteFile(dheFlight, flight.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCommittedDHEFlight(t *testing.T) {
	b, err := os.ReadFile(dheFlight)
	if err != nil {
		t.Fatal(err)
	}
	checkDHEFlight(t, b)
}

func checkDHEFlight(t *testing.T, flight []byte) {
	t.Helper()
	r := NewReader(bytes.NewReader(flight))
	var types []HandshakeType
	for i := 0; i < 20; i++ {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatal(err)
		}
		if m == nil || m.Handshake == nil {
			t.Fatalf("unexpected %+v", m)
		}
		types = append(types, m.Handshake.Type)
		raw := m.Handshake.Bytes()
		var again []byte
		switch m.Handshake.Type {
		case TypeServerHello:
			sh, err := ParseServerHello(raw)
			if err != nil || sh.CipherSuite != 0x009e {
				t.Fatalf("ServerHello suite %x: %v", sh.CipherSuite, err)
			}
			again, _ = sh.Marshal()
		case TypeServerKeyExchange:
			ske, err := ParseServerKeyExchange(raw, KeyExchangeDHE, VersionTLS12)
			if err != nil {
				t.Fatal(err)
			}
			if ske.DHPrimeBits() < 2048 || len(ske.G) == 0 || len(ske.Ys) == 0 || len(ske.Signature) != 256 || ske.SignatureAlgorithm == 0 {
				t.Errorf("DHE parameters: p %d bits, g %x, Ys %d bytes, signature %04x of %d bytes", ske.DHPrimeBits(), ske.G, len(ske.Ys), ske.SignatureAlgorithm, len(ske.Signature))
			}
			again, _ = ske.Marshal()
		case TypeCertificateRequest:
			cr, err := ParseCertificateRequest(raw, VersionTLS12)
			if err != nil {
				t.Fatal(err)
			}
			if len(cr.CertificateTypes) == 0 || len(cr.SignatureAlgorithms) == 0 {
				t.Errorf("CertificateRequest %+v", cr)
			}
			again, _ = cr.Marshal()
		default:
			again = raw
		}
		if !bytes.Equal(again, raw) {
			t.Errorf("%s re-encodes differently", m.Handshake.Type)
		}
		if m.Handshake.Type == TypeServerHelloDone {
			break
		}
	}
	want := []HandshakeType{TypeServerHello, TypeCertificate, TypeServerKeyExchange, TypeCertificateRequest, TypeServerHelloDone}
	if len(types) != len(want) {
		t.Fatalf("flight %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("flight %v, want %v", types, want)
		}
	}
}
