package wire

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func benchCapture(b *testing.B, name string) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", "captures", name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkParseClientHello decodes crypto/tls's TLS 1.3 hello (1.5 KB with
// its post-quantum key share) and all its extensions.
func BenchmarkParseClientHello(b *testing.B) {
	recs, _, _ := SplitRecords(benchCapture(b, "go_tls13.client"), 0)
	msg := recs[0].Fragment
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		ch, err := ParseClientHello(msg)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range ch.Extensions {
			decodeKnown(e, false)
		}
	}
}

// BenchmarkMarshalClientHello encodes the same hello, as the scanner does
// for every probe.
func BenchmarkMarshalClientHello(b *testing.B) {
	recs, _, _ := SplitRecords(benchCapture(b, "go_tls13.client"), 0)
	ch, _ := ParseClientHello(recs[0].Fragment)
	for b.Loop() {
		if _, err := ch.Records(VersionTLS10, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderServerFlight splits openssl's TLS 1.2 ECDHE server stream
// into messages.
func BenchmarkReaderServerFlight(b *testing.B) {
	stream := benchCapture(b, "openssl_server_tls12_ecdhe.server")
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(stream))
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
