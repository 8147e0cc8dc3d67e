package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"sync"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// tapConn keeps a copy of the first bytes a connection reads, so that the
// cleartext ServerHello of a crypto/tls handshake can be decoded afterwards.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if c.buf.Len() < 1<<16 {
		c.buf.Write(p[:n])
	}
	c.mu.Unlock()
	return n, err
}

// probeSessionID finds out whether the server resumes TLS 1.2 sessions by
// ID. A crypto/tls handshake (tickets off) establishes a session; the
// session ID is read from its cleartext ServerHello; then a raw ClientHello
// offers that ID. A server that resumes answers with the same ID and goes
// straight to ChangeCipherSpec, which is all the probe needs to see: it
// never finishes the abbreviated handshake.
func probeSessionID(ctx context.Context, rn *run) {
	if !rn.supported(VersionTLS12) {
		return
	}
	c, err := rn.budget.dial(ctx, rn.addr)
	if err != nil {
		return
	}
	tap := &tapConn{Conn: c}
	cfg := rn.tlsConfig()
	cfg.MaxVersion = tls.VersionTLS12
	cfg.SessionTicketsDisabled = true
	tc := tls.Client(tap, cfg)
	hctx, cancel := context.WithTimeout(ctx, rn.s.opts.Timeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		c.Close()
		return // crypto/tls cannot talk to this server (e.g. DHE only)
	}
	suite := tc.ConnectionState().CipherSuite
	tc.Close()
	tap.mu.Lock()
	stream := append([]byte(nil), tap.buf.Bytes()...)
	tap.mu.Unlock()

	ex := &exchange{reader: wire.NewReader(bytes.NewReader(stream))}
	if err := readAnswer(ex, false); err != nil || ex.hello == nil {
		return
	}
	no := false
	if len(ex.hello.SessionID) == 0 {
		rn.update(func(r *Result) { r.Resumption.SessionID = &no })
		return
	}
	id := ex.hello.SessionID
	again, err := rn.hello(ctx, helloSpec{version: VersionTLS12, suites: []uint16{suite}, sessionID: id})
	if err != nil || !again.accepted() {
		return
	}
	resumed := bytes.Equal(again.hello.SessionID, id) && again.hello.CipherSuite == suite
	rn.update(func(r *Result) { r.Resumption.SessionID = &resumed })
}
