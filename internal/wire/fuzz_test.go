package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets check two things on any input: no decoder panics, and
// whatever a decoder accepts re-encodes to the very same bytes (so nothing
// is silently dropped or invented). Their seed corpora in testdata/fuzz come
// from the real handshakes in testdata/captures (see TestWriteFuzzSeeds).

func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream))
		for i := 0; i < len(stream)+1; i++ {
			m, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTruncated) && err.Error() == "" {
					t.Fatal("error without a message")
				}
				return
			}
			if m.Handshake != nil && len(m.Handshake.Body) > DefaultMaxHandshake {
				t.Fatalf("handshake message of %d bytes passed the limit", len(m.Handshake.Body))
			}
		}
		t.Fatal("reader made no progress")
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, rest, err := SplitRecords(b, 0)
		if err != nil {
			return
		}
		var again []byte
		for _, r := range recs {
			e, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			again = append(again, e...)
		}
		if !bytes.Equal(append(again, rest...), b) {
			t.Fatal("records do not re-encode to the input")
		}
	})
}

func FuzzParseClientHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseClientHello(msg)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding: %v\n in % x\nout % x", err, msg, again)
		}
		for _, e := range m.Extensions {
			decodeKnown(e, false)
		}
		m.ServerName()
		m.SupportedVersions()
	})
}

func FuzzParseServerHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseServerHello(msg)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding: %v", err)
		}
		for _, e := range m.Extensions {
			decodeKnown(e, true)
		}
		m.SelectedVersion()
		m.DowngradeSentinel()
	})
}

func FuzzParseCertificate(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := ParseCertificate(msg)
		if err != nil {
			return
		}
		if again, err := m.Marshal(); err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}

func FuzzParseServerKeyExchange(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte, kind uint8, version uint16) {
		m, err := ParseServerKeyExchange(msg, KeyExchange(kind), version)
		if err != nil {
			return
		}
		m.DHPrimeBits()
		if again, err := m.Marshal(); err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}

func FuzzParseCertificateRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte, version uint16) {
		m, err := ParseCertificateRequest(msg, version)
		if err != nil {
			return
		}
		if again, err := m.Marshal(); err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}

func FuzzParseClientKeyExchange(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte, kind uint8, version uint16) {
		m, err := ParseClientKeyExchange(msg, KeyExchange(kind), version)
		if err != nil {
			return
		}
		if again, err := m.Marshal(); err != nil || !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}

// FuzzParseHandshakeMessage feeds any handshake message to the decoders of
// the small messages: Finished, ServerHelloDone, CertificateStatus and
// NewSessionTicket.
func FuzzParseHandshakeMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		var again []byte
		var err error
		switch {
		case len(msg) == 0:
			return
		case HandshakeType(msg[0]) == TypeFinished:
			var m *Finished
			if m, err = ParseFinished(msg); err == nil {
				again, err = m.Marshal()
			}
		case HandshakeType(msg[0]) == TypeServerHelloDone:
			if err = ParseServerHelloDone(msg); err == nil {
				again = MarshalServerHelloDone()
			}
		case HandshakeType(msg[0]) == TypeCertificateStatus:
			var m *CertificateStatus
			if m, err = ParseCertificateStatus(msg); err == nil {
				again, err = m.Marshal()
			}
		case HandshakeType(msg[0]) == TypeNewSessionTicket:
			var m *NewSessionTicket
			if m, err = ParseNewSessionTicket(msg); err == nil {
				again, err = m.Marshal()
			}
		default:
			_, _, err = ParseHandshake(msg, 0)
			again = msg
		}
		if err == nil && !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzParseExtension(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ uint16, data []byte, fromServer bool) {
		decodeKnown(Extension{Type: ExtensionType(typ), Data: data}, fromServer)
	})
}

func FuzzParseAlert(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAlert(b)
		if err == nil {
			_ = a.String()
			if !bytes.Equal(a.Marshal(), b) {
				t.Fatal("re-encoding differs")
			}
		}
		ParseChangeCipherSpec(b)
	})
}

func FuzzParseSSLv2(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		IsSSLv2ClientHello(b)
		ReadSSLv2Record(bytes.NewReader(b))
		if m, err := ParseSSLv2ClientHello(b); err == nil && b[0]&0x80 != 0 {
			if again, err := m.Marshal(); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("CLIENT-HELLO re-encoding: %v", err)
			}
		}
		if m, err := ParseSSLv2ServerHello(b); err == nil {
			if _, err := m.Marshal(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestWriteFuzzSeeds rebuilds testdata/fuzz from the captures when run with
// -update, and otherwise checks that every target has seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	targets := []string{"FuzzReader", "FuzzParseRecord", "FuzzParseClientHello", "FuzzParseServerHello", "FuzzParseCertificate",
		"FuzzParseServerKeyExchange", "FuzzParseCertificateRequest", "FuzzParseClientKeyExchange", "FuzzParseHandshakeMessage",
		"FuzzParseExtension", "FuzzParseAlert", "FuzzParseSSLv2"}
	if !*update {
		for _, tg := range targets {
			files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", tg, "*"))
			if len(files) == 0 {
				t.Errorf("%s has no seed corpus in testdata/fuzz; run go test -run TestWriteFuzzSeeds -update", tg)
			}
		}
		return
	}
	for _, tg := range targets {
		os.RemoveAll(filepath.Join("testdata", "fuzz", tg))
	}
	seed := func(target string, args ...any) {
		var sb strings.Builder
		sb.WriteString("go test fuzz v1\n")
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				fmt.Fprintf(&sb, "[]byte(%q)\n", v)
			case uint8:
				fmt.Fprintf(&sb, "byte(%q)\n", v)
			default:
				fmt.Fprintf(&sb, "%T(%v)\n", v, v)
			}
		}
		dir := filepath.Join("testdata", "fuzz", target)
		os.MkdirAll(dir, 0o755)
		name := fmt.Sprintf("%x", sha256.Sum256([]byte(sb.String())))[:16]
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "captures", "*.json"))
	for _, jf := range files {
		base := strings.TrimSuffix(jf, ".json")
		want := readTranscript(t, jf)
		kind := map[string]KeyExchange{"ECDHE": KeyExchangeECDHE, "RSA": KeyExchangeRSA}[want.KeyExchange]
		for _, dir := range []string{".client", ".server"} {
			stream, err := os.ReadFile(base + dir)
			if err != nil {
				t.Fatal(err)
			}
			seed("FuzzReader", stream)
			recs, _, _ := SplitRecords(stream, 0)
			if len(recs) > 0 {
				b, _ := recs[0].Marshal()
				seed("FuzzParseRecord", b)
			}
			for _, r := range recs {
				if r.Type == TypeAlert || r.Type == TypeChangeCipherSpec {
					seed("FuzzParseAlert", r.Fragment)
				}
			}
			for _, m := range readAll(t, stream, want.Version) {
				if m.Handshake == nil {
					continue
				}
				raw := m.Handshake.Bytes()
				switch m.Handshake.Type {
				case TypeClientHello:
					seed("FuzzParseClientHello", raw)
					ch, _ := ParseClientHello(raw)
					for _, e := range ch.Extensions {
						seed("FuzzParseExtension", uint16(e.Type), e.Data, false)
					}
				case TypeServerHello:
					seed("FuzzParseServerHello", raw)
					sh, _ := ParseServerHello(raw)
					for _, e := range sh.Extensions {
						seed("FuzzParseExtension", uint16(e.Type), e.Data, true)
					}
				case TypeCertificate:
					seed("FuzzParseCertificate", raw)
				case TypeServerKeyExchange:
					seed("FuzzParseServerKeyExchange", raw, uint8(kind), want.Version)
				case TypeClientKeyExchange:
					seed("FuzzParseClientKeyExchange", raw, uint8(kind), want.Version)
				default:
					seed("FuzzParseHandshakeMessage", raw)
				}
			}
		}
	}
	// The DHE flight with a CertificateRequest.
	if flight, err := os.ReadFile(dheFlight); err == nil {
		seed("FuzzReader", flight)
		for _, m := range readAll(t, flight, VersionTLS12) {
			switch raw := m.Handshake.Bytes(); m.Handshake.Type {
			case TypeServerKeyExchange:
				seed("FuzzParseServerKeyExchange", raw, uint8(KeyExchangeDHE), VersionTLS12)
			case TypeCertificateRequest:
				seed("FuzzParseCertificateRequest", raw, VersionTLS12)
			}
		}
	}
	// Messages no capture holds: built ones.
	for _, m := range sampleMessages() {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		switch v := m.(type) {
		case *CertificateRequest:
			seed("FuzzParseCertificateRequest", b, v.Version)
		case *ServerKeyExchange:
			seed("FuzzParseServerKeyExchange", b, uint8(v.Kind), v.Version)
		case *ClientKeyExchange:
			seed("FuzzParseClientKeyExchange", b, uint8(v.Kind), v.Version)
		case *Finished, *CertificateStatus, *NewSessionTicket:
			seed("FuzzParseHandshakeMessage", b)
		case *SSLv2ClientHello, *SSLv2ServerHello:
			seed("FuzzParseSSLv2", b)
		}
	}
	seed("FuzzParseHandshakeMessage", MarshalServerHelloDone())
	seed("FuzzParseAlert", Alert{AlertFatal, AlertHandshakeFailure}.Marshal())
}

func readTranscript(t *testing.T, file string) transcript {
	t.Helper()
	js, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want transcript
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	return want
}
