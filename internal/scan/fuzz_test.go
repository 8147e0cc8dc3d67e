package scan

import (
	"bytes"
	"testing"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// FuzzReadAnswer feeds arbitrary bytes as a server's answer to a raw
// ClientHello: decoding must never panic, must read a bounded number of
// messages, and whatever it keeps must be consistent.
func FuzzReadAnswer(f *testing.F) {
	sh := &wire.ServerHello{Version: VersionTLS12, CipherSuite: 0xc02f, Extensions: []wire.Extension{wire.RenegotiationInfoExtension(nil)}}
	b, _ := sh.Marshal()
	f.Add(wire.FragmentRecords(wire.TypeHandshake, VersionTLS12, b, 0))
	f.Add(wire.Alert{Level: 2, Description: wire.AlertHandshakeFailure}.Record(VersionTLS12))
	f.Fuzz(func(t *testing.T, data []byte) {
		ex := &exchange{reader: wire.NewReader(bytes.NewReader(data))}
		_ = readAnswer(ex, true)
		if ex.hello != nil && ex.version == 0 && ex.hello.Version == 0 {
			t.Skip() // a ServerHello that claims version 0 is kept as sent
		}
		rn := &run{r: &Result{}}
		for _, id := range []uint16{0x009e, 0xc02f, 0x1301} {
			s := describeSuite(id)
			v := uint16(VersionTLS12)
			if id == 0x1301 {
				v = VersionTLS13
			}
			rn.observeKeyExchange(&s, v, ex)
			if s.KeyExchangeBits < 0 {
				t.Fatalf("negative key size %d", s.KeyExchangeBits)
			}
		}
		if rn.r.DHBits < 0 {
			t.Fatalf("negative DH size %d", rn.r.DHBits)
		}
	})
}

func TestHelloAvoids256To511Bytes(t *testing.T) {
	rn := &run{sni: "example.com"}
	for n := 1; n <= 200; n += 7 {
		ch, err := rn.buildHello(helloSpec{version: VersionTLS12, suites: candidateSuites(VersionTLS12)[:n]})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := ch.Marshal()
		if len(b) >= 256 && len(b) < 512 {
			t.Fatalf("a hello with %d suites is %d bytes long", n, len(b))
		}
	}
}
