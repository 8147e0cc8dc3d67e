package scan

import (
	"bufio"
	"crypto/rand"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/wire"
)

// fakeServer answers raw ClientHellos the way an old, broken server would:
// SSL 2.0, export suites, compression, no renegotiation_info, a heartbeat
// that leaks, early ChangeCipherSpec accepted. No real server on a current
// system still behaves like this, so without it the vulnerable branches of
// the probes could never be tested. It builds its answers with
// internal/wire and never completes a handshake.
type fakeServer struct {
	versions      []uint16 // SSL 3.0 .. TLS 1.2; TLS 1.3 is never accepted
	suites        []uint16 // in server preference order
	sslv2         bool
	compression   bool
	noRenegInfo   bool
	heartbeat     bool // offer the heartbeat extension
	heartbleed    bool // and answer a malformed request with memory
	ccsVulnerable bool
	chain         [][]byte
}

func (fs *fakeServer) start(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go fs.serve(c)
		}
	}()
	return l.Addr().String()
}

func (fs *fakeServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	first, err := br.Peek(3)
	if err != nil {
		return
	}
	if first[0]&0x80 != 0 && first[2] == wire.SSLv2MsgClientHello {
		if !fs.sslv2 {
			return
		}
		sh := &wire.SSLv2ServerHello{CertificateType: 1, Version: VersionSSL20, Certificate: fs.chain[0],
			CipherSpecs: []uint32{0x010080, 0x0700c0}, ConnectionID: make([]byte, 16)}
		b, _ := sh.Marshal()
		c.Write(b)
		return
	}
	rd := wire.NewReader(br)
	m, err := rd.Next()
	if err != nil || m.Handshake == nil || m.Handshake.Type != wire.TypeClientHello {
		return
	}
	raw, _ := m.Handshake.Marshal()
	ch, err := wire.ParseClientHello(raw)
	if err != nil {
		return
	}
	alert := func(d wire.AlertDescription, v uint16) {
		c.Write(wire.Alert{Level: wire.AlertFatal, Description: d}.Record(v))
	}
	if _, ok := ch.Extension(wire.ExtSupportedVersions); ok {
		alert(wire.AlertProtocolVersion, VersionTLS12) // no TLS 1.3 here
		return
	}
	var v uint16
	for _, x := range fs.versions {
		if x <= ch.Version && x > v {
			v = x
		}
	}
	if v == 0 {
		alert(wire.AlertProtocolVersion, VersionTLS10)
		return
	}
	if slices.Contains(ch.CipherSuites, scsvFallback) && v < slices.Max(fs.versions) {
		alert(wire.AlertInappropriateFallback, v)
		return
	}
	var suite uint16
	for _, s := range fs.suites {
		if slices.Contains(ch.CipherSuites, s) {
			suite = s
			break
		}
	}
	if suite == 0 {
		alert(wire.AlertHandshakeFailure, v)
		return
	}
	sh := &wire.ServerHello{Version: v, SessionID: make([]byte, 32), CipherSuite: suite, Extensions: []wire.Extension{}}
	rand.Read(sh.Random[:])
	if fs.compression && slices.Contains(ch.CompressionMethods, 1) {
		sh.CompressionMethod = 1
	}
	_, ri := ch.Extension(wire.ExtRenegotiationInfo)
	if (ri || slices.Contains(ch.CipherSuites, scsvRenegotiation)) && !fs.noRenegInfo {
		sh.Extensions = append(sh.Extensions, wire.RenegotiationInfoExtension(nil))
	}
	_, hb := ch.Extension(wire.ExtHeartbeat)
	if hb && fs.heartbeat {
		sh.Extensions = append(sh.Extensions, wire.HeartbeatExtension(wire.HeartbeatPeerAllowed))
	}
	if v == VersionSSL30 && len(sh.Extensions) == 0 {
		sh.Extensions = nil
	}
	shb, _ := sh.Marshal()
	cert, _ := (&wire.Certificate{Certificates: fs.chain}).Marshal()
	out := append(append(shb, cert...), wire.MarshalServerHelloDone()...)
	c.Write(wire.FragmentRecords(wire.TypeHandshake, v, out, 0))

	rr := wire.NewRecordReader(br)
	ccs := 0
	for i := 0; i < 8; i++ {
		rec, err := rr.ReadRecord()
		if err != nil {
			return
		}
		switch rec.Type {
		case wire.TypeHeartbeat:
			if fs.heartbleed {
				leak := make([]byte, 3+1024)
				leak[0] = 2 // heartbeat_response, then "memory"
				c.Write(wire.FragmentRecords(wire.TypeHeartbeat, v, leak, 0))
			}
		case wire.TypeChangeCipherSpec:
			ccs++
			if !fs.ccsVulnerable {
				alert(wire.AlertUnexpectedMessage, v)
				return
			}
			if ccs == 2 {
				alert(wire.AlertBadRecordMAC, v)
				return
			}
		default:
			return
		}
	}
}

func TestScanFakeBrokenServer(t *testing.T) {
	is := testpki.NewCA(t, testpki.RSA2048).Issue(t, testpki.Leaf{DNS: []string{"localhost"}, KeyType: testpki.RSA2048})
	var chain [][]byte
	for _, c := range is.Chain() {
		chain = append(chain, c.Raw)
	}
	fs := &fakeServer{
		versions: []uint16{VersionSSL30, VersionTLS10},
		// EXP-RC4-MD5, RC4-SHA, DES-CBC3-SHA, AES128-SHA
		suites: []uint16{0x0003, 0x0005, 0x000a, 0x002f},
		sslv2:  true, compression: true, noRenegInfo: true, heartbeat: true, heartbleed: true, ccsVulnerable: true,
		chain: chain,
	}
	addr := fs.start(t)
	ca := &testCA{root: is.Issuer.Root()}
	r := scanAddr(t, ca, addr, Options{})

	for _, v := range []uint16{VersionSSL20, VersionSSL30, VersionTLS10} {
		if !r.Supported(v) {
			t.Errorf("%s not found", VersionName(v))
		}
	}
	if r.Supported(VersionTLS11) || r.Supported(VersionTLS12) || r.Supported(VersionTLS13) {
		t.Error("versions the fake server refuses were reported")
	}
	var ids []uint16
	for _, s := range r.Protocol(VersionTLS10).Suites {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, fs.suites) {
		t.Errorf("TLS 1.0 suites %04x, want %04x in server order", ids, fs.suites)
	}
	if p := r.Protocol(VersionTLS10); p.ServerPreference == nil || !*p.ServerPreference {
		t.Errorf("server preference %v, want true", p.ServerPreference)
	}
	for _, id := range []string{"drown", "poodle", "beast", "sweet32", "freak", "rc4", "crime", "heartbleed", "ccs_injection", "insecure_renegotiation"} {
		v := r.Vulnerability(id)
		if v == nil || v.Status != StatusVulnerable || v.Evidence == "" {
			t.Errorf("%s: %+v, want vulnerable with evidence", id, v)
		}
	}
	if r.FallbackSCSV == nil || !*r.FallbackSCSV {
		t.Errorf("fallback SCSV %v, want supported", r.FallbackSCSV)
	}
	if r.Certificate == nil || !r.Certificate.Trusted {
		t.Errorf("certificate from the raw Certificate message: %+v", r.Certificate)
	}
	rt := r.Rating
	if rt.Grade != "F" || rt.ProtocolScore != 45 || rt.KeyExchangeScore != 40 || rt.CipherScore != 50 {
		t.Errorf("grade %s, scores %d/%d/%d: want F, (90+0)/2=45, export 40, (80+20)/2=50", rt.Grade, rt.ProtocolScore, rt.KeyExchangeScore, rt.CipherScore)
	}
	var reasons []string
	for _, c := range rt.Caps {
		reasons = append(reasons, c.Reason)
	}
	for _, want := range []string{"SSL 2.0", "export", "Heartbleed", "CCS injection", "POODLE", "RC4", "CRIME"} {
		if !strings.Contains(strings.Join(reasons, "\n"), want) {
			t.Errorf("no cap mentions %q: %q", want, reasons)
		}
	}
	if t.Failed() {
		var b strings.Builder
		_ = WriteText(&b, r)
		t.Log(b.String())
	}
}

// A heartbeat extension alone is not Heartbleed: the probe must tell a
// server that answers the malformed request from one that ignores it.
func TestScanFakeHeartbeatWithoutLeak(t *testing.T) {
	is := testpki.NewCA(t, testpki.RSA2048).Issue(t, testpki.Leaf{DNS: []string{"localhost"}, KeyType: testpki.RSA2048})
	fs := &fakeServer{versions: []uint16{VersionTLS12}, suites: []uint16{0x009c}, heartbeat: true, chain: [][]byte{is.Cert.Raw}}
	r := scanAddr(t, &testCA{root: is.Issuer.Root()}, fs.start(t), Options{Timeout: time.Second})
	hb := r.Vulnerability("heartbleed")
	if r.Heartbeat == nil || !*r.Heartbeat || hb.Status != StatusNotVulnerable || !strings.Contains(hb.Evidence, "no heartbeat response") {
		t.Errorf("heartbeat %v, heartbleed %+v: want the extension seen and not vulnerable", r.Heartbeat, hb)
	}
	if v := r.Vulnerability("ccs_injection"); v.Status != StatusNotVulnerable || !strings.Contains(v.Evidence, "unexpected_message") {
		t.Errorf("ccs %+v", v)
	}
}
