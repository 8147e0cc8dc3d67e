package tunnel

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
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

// TestRecordTracker hands a stream of TLS records to crypto/tls in pieces
// of every size: no piece crosses the end of a record, so crypto/tls never
// holds the start of a record it has not asked for.
func TestRecordTracker(t *testing.T) {
	var stream []byte
	var ends []int // offsets where a record ends
	for _, n := range []int{0, 1, 4, 16384 + 256, 5, 300, 0, 70} {
		stream = append(stream, 23, 3, 3, byte(n>>8), byte(n))
		stream = append(stream, make([]byte, n)...)
		ends = append(ends, len(stream))
	}
	for _, piece := range []int{1, 2, 3, 5, 6, 7, 100, 16389, 1 << 20} {
		var r recordTracker
		isEnd := map[int]bool{}
		for _, e := range ends {
			isEnd[e] = true
		}
		seen := map[int]bool{}
		for off := 0; off < len(stream); {
			avail := stream[off:min(len(stream), off+piece)]
			n := r.limit(avail)
			if n <= 0 {
				t.Fatalf("piece %d: no progress at offset %d", piece, off)
			}
			for _, e := range ends {
				if off < e && e < off+n {
					t.Fatalf("piece %d: bytes %d-%d cross the end of a record at %d", piece, off, off+n, e)
				}
			}
			r.consumed(avail[:n])
			off += n
			if isEnd[off] {
				seen[off] = true
			}
		}
		if len(seen) != len(isEnd) {
			t.Errorf("piece %d: stopped at %d of %d record ends", piece, len(seen), len(isEnd))
		}
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
	serverAddr, _, _ := m.startServer(t, echo, ClientAuthOff, nil)
	addr, _, _ := startClient(t, serverAddr, ClientConfig{ServerName: m.server.ServerName, RootCAs: m.server.Roots})

	before := buffersHeld.Load()
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
	deadline := time.Now().Add(testTimeout)
	for buffersHeld.Load() > before {
		if time.Now().After(deadline) {
			t.Fatalf("an idle connection holds %d relay buffers", buffersHeld.Load()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
