package inspect

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/wire"
)

// sct builds a serialized v1 SCT with the given log id byte and time.
func sct(logByte byte, at time.Time) []byte {
	b := []byte{0}
	for i := 0; i < 32; i++ {
		b = append(b, logByte)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	return append(b, 0, 0, 4, 3, 0, 2, 0x30, 0) // no extensions, a stub signature
}

func TestSCTsFromHandshake(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	cert := f.TLSCertificate()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	cert.SignedCertificateTimestamps = [][]byte{sct(7, at), sct(9, at.Add(time.Hour))}
	s := serve(t, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12})
	tr, err := run(t, fixtureOptions(t, f, s.addr))
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Certificates.SCTs
	if len(got) != 2 || !got[0].Timestamp.Equal(at) || got[1].LogID != base64.StdEncoding.EncodeToString(bytesOf(9, 32)) {
		t.Errorf("SCTs %+v", got)
	}
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestEmbeddedSCTs(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	list := wire.SCTListExtension([][]byte{sct(1, at)}).Data
	val, _ := asn1.Marshal(list)
	c := &x509.Certificate{Extensions: []pkix.Extension{{Id: oidSCTList, Value: val}}}
	got := embeddedSCTs(c)
	if len(got) != 1 || !got[0].Timestamp.Equal(at) {
		t.Errorf("embedded SCTs %+v", got)
	}
	// Garbage in the extension is ignored, not fatal.
	c.Extensions[0].Value = []byte{4, 3, 0, 9, 1}
	if got := embeddedSCTs(c); len(got) != 0 {
		t.Errorf("garbage SCT list gave %+v", got)
	}
}

func TestLoadCertificatesDERAndPEM(t *testing.T) {
	f := testpki.Good(t, testpki.RSA2048)
	dir := t.TempDir()
	der := filepath.Join(dir, "leaf.der")
	os.WriteFile(der, f.Leaf().Raw, 0o644)
	pemFile := filepath.Join(dir, "chain.pem")
	os.WriteFile(pemFile, testpki.CertsPEM(f.Chain...), 0o644)
	for file, n := range map[string]int{der: 1, pemFile: len(f.Chain)} {
		certs, err := LoadCertificates(file)
		if err != nil || len(certs) != n {
			t.Errorf("%s: %d certificates, %v; want %d", file, len(certs), err, n)
		}
	}
	tr, err := Offline(OfflineOptions{CertFile: pemFile, CAFile: writeRoot(t, f), Name: "localhost"})
	if err != nil || !tr.Verification.Verified {
		t.Fatalf("offline: %v %+v", err, tr.Verification)
	}
	if ci := tr.Certificates.Chain[0]; ci.KeyType != "RSA" || ci.KeyBits != 2048 {
		t.Errorf("key %s %d", ci.KeyType, ci.KeyBits)
	}
}

func writeRoot(t *testing.T, f *testpki.Fixture) string {
	return f.WriteFiles(t, t.TempDir()).Root
}

func TestTextColourOnlyWhenAsked(t *testing.T) {
	f := testpki.Expired(t)
	dir := t.TempDir()
	files := f.WriteFiles(t, dir)
	tr, err := Offline(OfflineOptions{CertFile: files.Chain, CAFile: files.Root, Name: f.ServerName})
	if err != nil {
		t.Fatal(err)
	}
	var plain, colour strings.Builder
	tr.WriteText(&plain, TextOptions{})
	tr.WriteText(&colour, TextOptions{Color: true})
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("plain output has escape sequences")
	}
	if !strings.Contains(colour.String(), "\x1b[31;1m✘ NOT verified:") {
		t.Errorf("coloured output does not mark the failure red:\n%q", colour.String())
	}
	if !strings.Contains(plain.String(), "expired") {
		t.Errorf("output lacks the reason:\n%s", plain.String())
	}
}
