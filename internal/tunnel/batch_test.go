package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/testtool"
)

// tcpPair returns both ends of one loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln := listenLoopback(t)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestBatchConnReadsWholeAndLetsGo reads a burst through a batchConn in
// small pieces: the bytes arrive intact and in order, and once they are
// consumed the connection holds no buffer while it waits for more.
func TestBatchConnReadsWholeAndLetsGo(t *testing.T) {
	client, server := tcpPair(t)
	b := newBatchConn(server)
	if b.raw == nil {
		t.Fatal("a TCP connection should be read through its file descriptor")
	}
	payload := make([]byte, 300<<10+7)
	rand.Read(payload)
	go func() {
		client.Write(payload)
		client.(*net.TCPConn).CloseWrite()
	}()
	b.SetReadDeadline(time.Now().Add(testTimeout))
	var got []byte
	piece := make([]byte, 5000)
	var gathered bool
	for {
		n, err := b.Read(piece)
		got = append(got, piece[:n]...)
		if len(b.pending) > 0 {
			gathered = true
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("read %d bytes, want %d identical ones", len(got), len(payload))
	}
	if !gathered {
		t.Error("no read took more than the caller asked for: the network is read in pieces")
	}
	if b.in != nil || len(b.pending) != 0 {
		t.Errorf("an idle connection still holds a %d-byte buffer", cap(*b.in))
	}
}

// TestBatchConnReadErrors keeps the errors callers tell apart: a deadline
// is a timeout, a closed connection is net.ErrClosed, and the peer's
// close is io.EOF.
func TestBatchConnReadErrors(t *testing.T) {
	client, server := tcpPair(t)
	b := newBatchConn(server)
	buf := make([]byte, 10)

	b.SetReadDeadline(time.Unix(1, 0))
	_, err := b.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
	b.SetReadDeadline(time.Now().Add(testTimeout))

	client.Write([]byte("hello"))
	if n, err := b.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	client.Close()
	if _, err := b.Read(buf); err != io.EOF {
		t.Errorf("read after the peer closed: %v, want io.EOF", err)
	}
	b.Close()
	if _, err := b.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v, want net.ErrClosed", err)
	}
}

// TestBatchConnGathersRecords writes through an open batch: the writes
// reach the network as one, after flush, and none before it.
func TestBatchConnGathersRecords(t *testing.T) {
	client, server := tcpPair(t)
	b := newBatchConn(client)
	b.begin()
	for _, s := range []string{"one ", "two ", "three"} {
		b.Write([]byte(s))
	}
	server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := server.Read(make([]byte, 100)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%d bytes reached the network before flush (%v)", n, err)
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	server.SetReadDeadline(time.Now().Add(testTimeout))
	got := make([]byte, len("one two three"))
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "one two three" {
		t.Fatalf("after flush: %q, %v", got, err)
	}
	if b.out != nil {
		t.Error("the batch buffer is kept after flush")
	}
}

// TestIdleConnectionsHoldNoBuffers moves a burst each way through a client
// and a server tunnel, then leaves the connection open and idle: neither
// tunnel keeps a relay buffer for it, so idle connections cost little
// memory however large the buffers of a bulk transfer are.
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	// With client certificates, a Go server sends its session tickets after
	// the client's handshake is over, as OpenSSL always does: records that
	// carry no data and arrive on an otherwise idle connection.
	serverAddr, _, _ := m.startServer(t, echo, ClientAuthRequire, nil, "uri:spiffe://corp.test/billing")
	billing := m.billing.TLSCertificate()
	addr, lb, _ := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots,
		ClientCertificate: func() (*tls.Certificate, error) { return &billing, nil }})

	before := buffersHeld.Load()
	waitHeld := func(when string) {
		t.Helper()
		deadline := time.Now().Add(testTimeout)
		for buffersHeld.Load() > before {
			if time.Now().After(deadline) {
				t.Fatalf("%s, an idle connection holds %d relay buffers", when, buffersHeld.Load()-before)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// A new connection: the handshake is done and the server has sent its
	// session tickets, but no data has passed yet.
	fresh := dial(t, addr)
	defer fresh.Close()
	lb.waitFor(t, "connection established")
	time.Sleep(50 * time.Millisecond)
	waitHeld("before any data")

	c := dial(t, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	go c.Write(payload)
	if _, err := io.ReadFull(c, make([]byte, len(payload))); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, "PING\r\n"); err != nil || got != "PING\r\n" {
		t.Fatalf("after the burst: %q, %v", got, err)
	}
	waitHeld("after a burst each way")
}

// TestIdleAfterSessionTickets points a client tunnel at openssl s_server,
// which sends its TLS 1.3 session tickets after the handshake, on their
// own: records that carry no data. A connection that has received only
// those is idle and holds no relay buffer.
func TestIdleAfterSessionTickets(t *testing.T) {
	bin := testtool.Need(t, "openssl")
	f := testpki.Good(t, testpki.ECDSAP256)
	files := f.WriteFiles(t, t.TempDir())
	ln := listenLoopback(t)
	target := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*testTimeout)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "s_server", "-accept", target, "-cert", files.Chain, "-cert_chain", files.Chain, "-key", files.Key,
		"-tls1_3", "-num_tickets", "2", "-quiet")
	// s_server sends what it reads on stdin and quits at its end: keep it
	// open and silent.
	stdin, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var out bytes.Buffer
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Wait() })
	for deadline := time.Now().Add(testTimeout); ; {
		c, err := net.Dial("tcp", target)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("openssl s_server does not listen on %s: %v\n%s", target, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	addr, lb, _ := startClient(t, target, ClientConfig{ServerName: f.ServerName, RootCAs: f.Roots})
	before := buffersHeld.Load()
	c := dial(t, addr)
	defer c.Close()
	lb.waitFor(t, "connection established")
	time.Sleep(100 * time.Millisecond) // the tickets arrive and are read
	// The target stays up well beyond this wait, so a buffer given back
	// here was not given back because the connection ended.
	deadline := time.Now().Add(2 * time.Second)
	for buffersHeld.Load() > before {
		if time.Now().After(deadline) {
			t.Fatalf("a connection that received only session tickets holds %d relay buffers", buffersHeld.Load()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A TLS side whose batched write is blocked on a peer that does not read
// is aborted at once: tls.Conn.Close alone would wait for crypto/tls's
// close_notify write deadline behind the blocked write.
func TestAbortDoesNotWaitForBlockedFlush(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	cc, sc := tcpPair(t)
	batch := newBatchConn(sc)
	stc := tls.Server(batch, fixtureTLS(f))
	ctc := tls.Client(cc, &tls.Config{RootCAs: f.Roots, ServerName: f.ServerName})
	ctc.SetDeadline(time.Now().Add(testTimeout))
	stc.SetDeadline(time.Now().Add(testTimeout))
	hs := make(chan error, 1)
	go func() { hs <- ctc.Handshake() }()
	if err := stc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-hs; err != nil {
		t.Fatal(err)
	}
	// The client never reads again: the writer blocks in flush.
	wdone := make(chan error, 1)
	go func() {
		buf := make([]byte, relayBufferSize)
		for range 256 { // at most 64 MiB
			if _, err := tlsWrite(stc, batch, buf); err != nil {
				wdone <- err
				return
			}
		}
		wdone <- nil
	}()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-wdone:
		t.Fatalf("writer did not block: %v", err)
	default:
	}
	start := time.Now()
	end{Conn: stc, tls: stc, batch: batch}.abort()
	took := time.Since(start)
	select {
	case <-wdone:
	case <-time.After(testTimeout):
		t.Fatal("blocked writer still blocked after abort")
	}
	if took > time.Second {
		t.Errorf("abort took %v while a flush was blocked", took.Round(time.Millisecond))
	}
}

// TestBatchConnReleasesPendingBytes: a connection that ends with bytes
// read from the network and not yet consumed gives its buffer back.
func TestBatchConnReleasesPendingBytes(t *testing.T) {
	cc, sc := tcpPair(t)
	before := buffersHeld.Load()
	cc.Write(bytes.Repeat([]byte("x"), 64<<10))
	time.Sleep(100 * time.Millisecond)
	b := newBatchConn(sc)
	b.SetReadDeadline(time.Now().Add(testTimeout))
	if _, err := b.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if d := buffersHeld.Load() - before; d != 1 {
		t.Fatalf("with bytes pending, %d relay buffers held; want 1", d)
	}
	b.release()
	b.Close()
	if d := buffersHeld.Load() - before; d != 0 {
		t.Errorf("after release, %d relay buffer(s) still held", d)
	}
}

// TestHandshakeFailureReleasesPendingBytes: a client that sends a burst
// of plaintext to the server tunnel fails the handshake at its first bytes;
// the rest, already read, does not keep a relay buffer.
func TestHandshakeFailureReleasesPendingBytes(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	addr, lb, _ := m.startServer(t, echo, ClientAuthOff, nil)
	lb.waitFor(t, "target answers")
	before := buffersHeld.Load()
	c := dial(t, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	c.Write(append([]byte("GET / HTTP/1.1\r\nHost: x\r\n"), bytes.Repeat([]byte("x"), 64<<10)...))
	lb.waitFor(t, "reason=not_tls")
	deadline := time.Now().Add(2 * time.Second)
	for buffersHeld.Load() != before {
		if time.Now().After(deadline) {
			t.Fatalf("after a failed handshake, %d relay buffer(s) still held", buffersHeld.Load()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
