package gateway

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHTTP2OversizedHeadersGet431 sends, over raw HTTP/2 frames, a header
// block larger than the limit (Go's client refuses to send one, so frames
// are written by hand) and expects 431 without reaching the upstream.
func TestHTTP2OversizedHeadersGet431(t *testing.T) {
	up := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{MaxHeaderBytes: 4096}}, roots)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if conn.ConnectionState().NegotiatedProtocol != "h2" {
		t.Fatal("h2 not negotiated")
	}
	conn.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(conn, conn)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	// Modest headers, together over the limit, in one frame. A block that
	// needs CONTINUATION frames beyond the limit, or a single huge value,
	// makes Go's server end the whole connection instead (its defence
	// against CONTINUATION floods), which also never reaches the upstream.
	for i := range 12 {
		enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-big-%d", i), Value: strings.Repeat("a", 500)})
	}
	block := hb.Bytes()
	// Split across HEADERS and CONTINUATION frames of the default size.
	first := min(len(block), 16<<10)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:first], EndStream: true, EndHeaders: first == len(block)})
	for rest := block[first:]; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		fr.WriteContinuation(1, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	dec := hpack.NewDecoder(4096, nil)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no response to the oversized request: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			fields, err := dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			for _, hf := range fields {
				if hf.Name == ":status" && hf.Value != "431" {
					t.Errorf("status %s, want 431", hf.Value)
				}
			}
			if up.count() != 0 {
				t.Error("an oversized request reached the upstream")
			}
			return
		case *http2.GoAwayFrame:
			t.Fatalf("got GOAWAY %v %q instead of a 431 response", f.ErrCode, f.DebugData())
		case *http2.RSTStreamFrame:
			t.Fatalf("got RST_STREAM %v instead of a 431 response", f.ErrCode)
		}
	}
}
