package wire

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

type marshaler interface{ Marshal() ([]byte, error) }

func sampleMessages() []marshaler {
	random := [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	return []marshaler{
		&ClientHello{Version: VersionSSL30, Random: random, CipherSuites: []uint16{0x000a, 0x0005}, CompressionMethods: []uint8{0}},
		&ClientHello{Version: VersionTLS12, Random: random, SessionID: bytes.Repeat([]byte{7}, 32), CipherSuites: []uint16{0x1301, 0xc02b, 0x00ff},
			CompressionMethods: []uint8{1, 0}, Extensions: []Extension{
				ServerNameExtension("api.example"),
				SupportedGroupsExtension([]uint16{0x11ec, 29, 23}),
				ECPointFormatsExtension([]uint8{0}),
				SignatureAlgorithmsExtension(ExtSignatureAlgorithms, []uint16{0x0403, 0x0804}),
				KeyShareExtension([]KeyShare{{29, bytes.Repeat([]byte{9}, 32)}}),
				SupportedVersionsExtension([]uint16{0x3a3a, VersionTLS13, VersionTLS12}),
				ALPNExtension([]string{"h2", "http/1.1"}),
				PSKKeyExchangeModesExtension([]uint8{PSKModeDHEKE}),
				RenegotiationInfoExtension(nil),
				StatusRequestExtension(),
				EmptyExtension(ExtSCT),
				HeartbeatExtension(HeartbeatPeerAllowed),
				EmptyExtension(ExtEncryptThenMAC),
				EmptyExtension(ExtExtendedMasterSecret),
				SessionTicketExtension(nil),
				{Type: 0x1234, Data: []byte("kept raw")},
				PaddingExtension(7),
				PreSharedKeyExtension(PreSharedKey{Identities: []PSKIdentity{{[]byte("ticket"), 42}}, Binders: [][]byte{bytes.Repeat([]byte{1}, 32)}}),
			}},
		&ServerHello{Version: VersionTLS12, Random: random, CipherSuite: 0x1301, Extensions: []Extension{
			SelectedVersionExtension(VersionTLS13), ServerKeyShareExtension(KeyShare{0x11ec, []byte{1, 2, 3}}), SelectedPSKExtension(0)}},
		&ServerHello{Version: VersionTLS12, Random: helloRetryRequestRandom, CipherSuite: 0x1302, Extensions: []Extension{
			SelectedVersionExtension(VersionTLS13), HRRKeyShareExtension(23), CookieExtension([]byte("cookie"))}},
		&ServerHello{Version: VersionTLS10, Random: random, CipherSuite: 0x002f, Extensions: []Extension{}},
		&Certificate{Certificates: [][]byte{{0x30, 1, 2}, {0x30, 3}}},
		&Certificate{Certificates: [][]byte{}},
		&ServerKeyExchange{Kind: KeyExchangeECDHE, Version: VersionTLS12, Group: 29, PublicKey: bytes.Repeat([]byte{4}, 32), SignatureAlgorithm: 0x0804, Signature: []byte("sig")},
		&ServerKeyExchange{Kind: KeyExchangeDHE, Version: VersionTLS10, P: []byte{0x00, 0xff, 0xfb}, G: []byte{2}, Ys: []byte{5, 6}, Signature: []byte("sig")},
		&ServerKeyExchange{Kind: KeyExchangeDHE, Version: VersionTLS12, P: []byte{0xff}, G: []byte{2}, Ys: []byte{5}},
		&CertificateRequest{Version: VersionTLS12, CertificateTypes: []uint8{CertTypeRSASign, CertTypeECDSASign}, SignatureAlgorithms: []uint16{0x0401}, CertificateAuthorities: [][]byte{[]byte("dn")}},
		&CertificateRequest{Version: VersionTLS11, CertificateTypes: []uint8{CertTypeRSASign}, CertificateAuthorities: [][]byte{}},
		&ClientKeyExchange{Kind: KeyExchangeRSA, Version: VersionTLS12, Data: bytes.Repeat([]byte{3}, 256)},
		&ClientKeyExchange{Kind: KeyExchangeRSA, Version: VersionSSL30, Data: bytes.Repeat([]byte{3}, 128)},
		&ClientKeyExchange{Kind: KeyExchangeECDHE, Version: VersionTLS12, Data: bytes.Repeat([]byte{4}, 65)},
		&ClientKeyExchange{Kind: KeyExchangeDHE, Version: VersionTLS12, Data: []byte{9, 9}},
		&Finished{VerifyData: bytes.Repeat([]byte{0xaa}, 12)},
		&CertificateStatus{StatusType: StatusTypeOCSP, Response: []byte{0x30, 0}},
		&NewSessionTicket{LifetimeHint: 7200, Ticket: []byte("ticket")},
		&SSLv2ClientHello{Version: VersionSSL20, CipherSpecs: []uint32{0x010080, 0x0700c0}, Challenge: bytes.Repeat([]byte{5}, 16)},
		&SSLv2ClientHello{Version: VersionTLS10, CipherSpecs: []uint32{0x00002f, 0x000035}, SessionID: []byte{}, Challenge: bytes.Repeat([]byte{5}, 32)},
		&SSLv2ServerHello{CertificateType: 1, Version: VersionSSL20, Certificate: []byte{0x30, 0}, CipherSpecs: []uint32{0x010080}, ConnectionID: bytes.Repeat([]byte{1}, 16)},
	}
}

// parseLike decodes b with the parser that matches m's type.
func parseLike(m marshaler, b []byte) (marshaler, error) {
	switch v := m.(type) {
	case *ClientHello:
		return ParseClientHello(b)
	case *ServerHello:
		return ParseServerHello(b)
	case *Certificate:
		return ParseCertificate(b)
	case *ServerKeyExchange:
		return ParseServerKeyExchange(b, v.Kind, v.Version)
	case *CertificateRequest:
		return ParseCertificateRequest(b, v.Version)
	case *ClientKeyExchange:
		return ParseClientKeyExchange(b, v.Kind, v.Version)
	case *Finished:
		return ParseFinished(b)
	case *CertificateStatus:
		return ParseCertificateStatus(b)
	case *NewSessionTicket:
		return ParseNewSessionTicket(b)
	case *SSLv2ClientHello:
		return ParseSSLv2ClientHello(b)
	case *SSLv2ServerHello:
		return ParseSSLv2ServerHello(b)
	}
	panic("no parser")
}

func TestRoundTrip(t *testing.T) {
	for i, m := range sampleMessages() {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("%d %T: %v", i, m, err)
		}
		got, err := parseLike(m, b)
		if err != nil {
			t.Fatalf("%d %T: %v", i, m, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(m)) {
			t.Errorf("%d %T round trip:\n got %+v\nwant %+v", i, m, got, m)
		}
		// Every shorter prefix must fail cleanly.
		for n := 0; n < len(b); n++ {
			if _, err := parseLike(m, b[:n]); err == nil {
				t.Errorf("%d %T: prefix of %d/%d bytes accepted", i, m, n, len(b))
			}
		}
		// And so must trailing garbage.
		if _, err := parseLike(m, append(b[:len(b):len(b)], 0)); err == nil {
			if _, ok := m.(*SSLv2ServerHello); !ok { // documented: bytes after the record are ignored
				t.Errorf("%d %T: trailing byte accepted", i, m)
			}
		}
	}
}

// normalize maps empty slices to nil so that DeepEqual compares content.
func normalize(m marshaler) marshaler {
	v := reflect.ValueOf(m).Elem()
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	for i := 0; i < c.NumField(); i++ {
		f := c.Field(i)
		if f.Kind() == reflect.Slice && f.Len() == 0 && f.Type().Elem().Kind() != reflect.Struct {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return c.Addr().Interface().(marshaler)
}

func TestExtensionDecoders(t *testing.T) {
	ch := sampleMessages()[1].(*ClientHello)
	b, _ := ch.Marshal()
	got, err := ParseClientHello(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Extensions) != len(ch.Extensions) {
		t.Fatalf("%d extensions, want %d", len(got.Extensions), len(ch.Extensions))
	}
	for i, e := range got.Extensions {
		if e.Type != ch.Extensions[i].Type {
			t.Errorf("extension %d is %s, want %s: order not kept", i, e.Type, ch.Extensions[i].Type)
		}
		if err := decodeKnown(e, false); err != nil {
			t.Errorf("%s: %v", e.Type, err)
		}
	}
	if sni, _ := got.ServerName(); sni != "api.example" {
		t.Errorf("SNI %q", sni)
	}
	if v, _ := got.SupportedVersions(); !reflect.DeepEqual(v, []uint16{0x3a3a, VersionTLS13, VersionTLS12}) {
		t.Errorf("versions %x", v)
	}
	e, _ := got.Extension(ExtKeyShare)
	if ks, err := ParseKeyShares(e.Data); err != nil || ks[0].Group != 29 || len(ks[0].Data) != 32 {
		t.Errorf("key shares %+v %v", ks, err)
	}
	e, _ = got.Extension(ExtPreSharedKey)
	if p, err := ParsePreSharedKey(e.Data); err != nil || string(p.Identities[0].Identity) != "ticket" || p.Identities[0].ObfuscatedTicketAge != 42 {
		t.Errorf("psk %+v %v", p, err)
	}
	e, _ = got.Extension(0x1234)
	if string(e.Data) != "kept raw" || e.Type.String() != "extension(4660)" {
		t.Errorf("unknown extension %v %q", e.Type, e.Data)
	}
	e, _ = got.Extension(ExtStatusRequest)
	if sr, err := ParseStatusRequest(e.Data); err != nil || sr.StatusType != StatusTypeOCSP {
		t.Errorf("status_request %+v %v", sr, err)
	}
	if ExtensionType(0x2a2a).String() != "GREASE(0x2a2a)" || VersionName(0x3a3a) != "GREASE(0x3a3a)" || VersionName(VersionTLS13) != "TLS 1.3" {
		t.Errorf("GREASE names")
	}

	// Malformed bodies are rejected.
	bad := map[ExtensionType][]byte{
		ExtServerName:          {0, 5, 0, 0, 9},
		ExtSupportedGroups:     {0, 3, 0, 29, 0},
		ExtSupportedVersions:   {3, 3, 4},
		ExtALPN:                {0, 3, 0, 1, 'h'},
		ExtKeyShare:            {0, 4, 0, 29, 0, 5},
		ExtPreSharedKey:        {0, 0, 0, 0},
		ExtRenegotiationInfo:   {2, 0},
		ExtHeartbeat:           {},
		ExtCookie:              {0, 0},
		ExtPSKKeyExchangeModes: {3, 1},
	}
	for typ, data := range bad {
		if err := decodeKnown(Extension{typ, data}, false); err == nil {
			t.Errorf("malformed %s % x accepted", typ, data)
		}
	}
	// Duplicate extensions are refused.
	dup := &ClientHello{Version: VersionTLS12, CipherSuites: []uint16{1}, CompressionMethods: []uint8{0}, Extensions: []Extension{EmptyExtension(ExtExtendedMasterSecret), EmptyExtension(ExtExtendedMasterSecret)}}
	b, _ = dup.Marshal()
	if _, err := ParseClientHello(b); err == nil || !strings.Contains(err.Error(), "duplicate extended_master_secret") {
		t.Errorf("duplicate extension: %v", err)
	}
}

func TestServerHelloHelpers(t *testing.T) {
	msgs := sampleMessages()
	sh := msgs[2].(*ServerHello)
	if sh.IsHelloRetryRequest() {
		t.Error("ordinary ServerHello taken for HelloRetryRequest")
	}
	if v, _ := sh.SelectedVersion(); v != VersionTLS13 {
		t.Errorf("selected %x", v)
	}
	if !msgs[3].(*ServerHello).IsHelloRetryRequest() {
		t.Error("HelloRetryRequest not recognised")
	}
	if v, _ := msgs[4].(*ServerHello).SelectedVersion(); v != VersionTLS10 {
		t.Errorf("legacy version %x", v)
	}
	d := &ServerHello{}
	copy(d.Random[24:], "DOWNGRD\x01")
	if d.DowngradeSentinel() != VersionTLS12 || sh.DowngradeSentinel() != 0 {
		t.Error("downgrade sentinel")
	}
	ske := msgs[8].(*ServerKeyExchange)
	if ske.DHPrimeBits() != 16 {
		t.Errorf("DH prime %d bits, want 16", ske.DHPrimeBits())
	}
}

func TestRecords(t *testing.T) {
	ch := sampleMessages()[1].(*ClientHello)
	body, _ := ch.Marshal()
	// A hello cut into 50-byte records, followed by a ServerHelloDone
	// coalesced with a Finished in one record, then an alert.
	stream, _ := ch.Records(VersionTLS10, 50)
	two, _ := HandshakeRecords(VersionTLS12, 0, Handshake{Type: TypeServerHelloDone}, Handshake{Type: TypeFinished, Body: []byte{1, 2, 3}})
	stream = append(stream, two...)
	stream = append(stream, Alert{AlertFatal, AlertHandshakeFailure}.Record(VersionTLS12)...)
	stream = append(stream, ChangeCipherSpecRecord(VersionTLS12)...)
	stream = append(stream, FragmentRecords(TypeHandshake, VersionTLS12, []byte("ciphertext"), 0)...)

	r := NewReader(bytes.NewReader(stream))
	m, err := r.Next()
	if err != nil || m.Handshake == nil || !bytes.Equal(m.Handshake.Bytes(), body) {
		t.Fatalf("reassembled hello: %v", err)
	}
	if want := (len(body) + 49) / 50; m.Records != want || m.RecordVersion != VersionTLS10 {
		t.Errorf("hello came in %d records of version %x, want %d of 0x0301", m.Records, m.RecordVersion, want)
	}
	var kinds []string
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case m.Handshake != nil:
			kinds = append(kinds, m.Handshake.Type.String())
		case m.Type == TypeAlert:
			a, _ := ParseAlert(m.Data)
			kinds = append(kinds, a.String())
		case m.Encrypted:
			kinds = append(kinds, "encrypted "+m.Type.String())
		default:
			kinds = append(kinds, m.Type.String())
		}
	}
	want := []string{"ServerHelloDone", "Finished", "fatal handshake_failure", "change_cipher_spec", "encrypted handshake"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("got %q\nwant %q", kinds, want)
	}

	// A stream cut inside a record or a message is reported as truncated.
	for _, n := range []int{3, 7, 60} {
		r := NewReader(bytes.NewReader(stream[:n]))
		if _, err := r.Next(); !errors.Is(err, ErrTruncated) {
			t.Errorf("stream cut at %d: %v, want ErrTruncated", n, err)
		}
	}
	recs, rest, err := SplitRecords(stream[:60], 0)
	if err != nil || len(recs) != 1 || len(rest) != 5 {
		t.Errorf("SplitRecords: %d records, %d left, %v", len(recs), len(rest), err)
	}
	// Not TLS at all, or over the limits.
	for name, b := range map[string][]byte{
		"http":      []byte("GET / HTTP/1.1\r\n\r\n"),
		"type":      {99, 3, 3, 0, 0},
		"version":   {22, 9, 9, 0, 0},
		"too long":  {22, 3, 3, 0xff, 0xff},
		"handshake": append([]byte{22, 3, 3, 0, 4}, 1, 0xff, 0xff, 0xff),
	} {
		r := NewReader(bytes.NewReader(append(b, make([]byte, 70000)...)))
		if _, err := r.Next(); err == nil || errors.Is(err, ErrTruncated) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
}

func TestSSLv2(t *testing.T) {
	msgs := sampleMessages()
	v2, _ := msgs[len(msgs)-3].Marshal()
	compat, _ := msgs[len(msgs)-2].Marshal()
	tls12, _ := msgs[1].(*ClientHello).Records(VersionTLS10, 0)
	if !IsSSLv2ClientHello(v2) || !IsSSLv2ClientHello(compat) || IsSSLv2ClientHello(tls12) {
		t.Error("SSLv2 hello detection")
	}
	sh, _ := msgs[len(msgs)-1].Marshal()
	got, err := ReadSSLv2Record(bytes.NewReader(sh))
	if err != nil || got[0] != SSLv2MsgServerHello {
		t.Fatalf("ReadSSLv2Record: %v", err)
	}
	// A 3-byte header with padding.
	padded := append([]byte{0x00, byte(len(got) + 2), 2}, got...)
	padded = append(padded, 0, 0)
	if m, err := ParseSSLv2ServerHello(padded); err != nil || m.CipherSpecs[0] != 0x010080 {
		t.Errorf("padded SERVER-HELLO: %+v %v", m, err)
	}
	if _, err := ParseSSLv2ServerHello([]byte{0x80, 3, 0, 0, 1}); err == nil || !strings.Contains(err.Error(), "ERROR 0x0001") {
		t.Errorf("SSLv2 error message: %v", err)
	}
}

// TestBuiltHelloAgainstGoServer sends hellos built here to a crypto/tls
// server, the way the scanner probes, and reads its answer.
func TestBuiltHelloAgainstGoServer(t *testing.T) {
	cert := mintCert(t, false)
	cases := []struct {
		name      string
		hello     ClientHello
		wantSuite uint16
		wantAlert AlertDescription
		wantVer   uint16
	}{
		{"tls12 ecdhe", ClientHello{Version: VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, CompressionMethods: []uint8{0},
			Extensions: []Extension{ServerNameExtension("localhost"), SupportedGroupsExtension([]uint16{29}), ECPointFormatsExtension([]uint8{0}),
				SignatureAlgorithmsExtension(ExtSignatureAlgorithms, []uint16{0x0403}), RenegotiationInfoExtension(nil), EmptyExtension(ExtExtendedMasterSecret)}},
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 0, VersionTLS12},
		{"tls13", ClientHello{Version: VersionTLS12, SessionID: make([]byte, 32), CipherSuites: []uint16{tls.TLS_AES_256_GCM_SHA384}, CompressionMethods: []uint8{0},
			Extensions: []Extension{SupportedVersionsExtension([]uint16{VersionTLS13}), SupportedGroupsExtension([]uint16{29}),
				KeyShareExtension([]KeyShare{{29, bytes.Repeat([]byte{9}, 32)}}), SignatureAlgorithmsExtension(ExtSignatureAlgorithms, []uint16{0x0403})}},
			tls.TLS_AES_256_GCM_SHA384, 0, VersionTLS13},
		{"only rc4", ClientHello{Version: VersionTLS12, CipherSuites: []uint16{0x0005}, CompressionMethods: []uint8{0}, Extensions: []Extension{}},
			0, AlertHandshakeFailure, 0},
		{"ssl3", ClientHello{Version: VersionSSL30, CipherSuites: []uint16{0x000a}, CompressionMethods: []uint8{0}},
			0, AlertProtocolVersion, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert.tls}}).Handshake()
			}()
			conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			h := c.hello
			rand.Read(h.Random[:])
			out, err := h.Records(VersionTLS10, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(out); err != nil {
				t.Fatal(err)
			}
			r := NewReader(conn)
			m, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if c.wantAlert != 0 {
				a, err := ParseAlert(m.Data)
				if m.Type != TypeAlert || err != nil || a.Description != c.wantAlert || a.Level != AlertFatal {
					t.Fatalf("got %s %v %v, want fatal %s", m.Type, a, err, c.wantAlert)
				}
				return
			}
			if m.Handshake == nil || m.Handshake.Type != TypeServerHello {
				t.Fatalf("got %+v, want a ServerHello", m)
			}
			sh, err := ParseServerHello(m.Handshake.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := sh.SelectedVersion(); sh.CipherSuite != c.wantSuite || v != c.wantVer {
				t.Errorf("server chose %x %s", sh.CipherSuite, VersionName(v))
			}
			if c.wantVer == VersionTLS12 {
				// Certificate, ServerKeyExchange, ServerHelloDone follow in clear.
				var types []HandshakeType
				for len(types) < 3 {
					m, err := r.Next()
					if err != nil || m.Handshake == nil {
						t.Fatalf("after ServerHello: %+v %v", m, err)
					}
					types = append(types, m.Handshake.Type)
				}
				if !reflect.DeepEqual(types, []HandshakeType{TypeCertificate, TypeServerKeyExchange, TypeServerHelloDone}) {
					t.Errorf("flight %v", types)
				}
			}
		})
	}
}
