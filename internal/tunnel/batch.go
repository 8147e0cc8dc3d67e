package tunnel

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The relay moves bulk data in as few system calls as it can. Left to
// itself, crypto/tls writes each record (16 KiB at most) with its own write,
// reads the network in pieces of about one record and returns at most one
// record per read: three to four system calls, and as many wake-ups of the
// peer, per 64 KiB where a plaintext copy makes one.

// batchConn sits under a tls.Conn. While a batch is open it gathers the
// records of one tls.Conn.Write into a single write to the network; on the
// read side it takes whatever the network holds in one read, so that
// crypto/tls then finds the following records already in memory.
//
// Both buffers come from a pool and are held only while they hold data: an
// idle connection keeps none, so ten thousand idle connections do not pin
// gigabytes.
type batchConn struct {
	net.Conn
	raw syscall.RawConn // nil when the connection has no file descriptor

	mu       sync.Mutex // guards the write side
	batching bool
	out      *[]byte

	in      *[]byte // read side, used by one reader at a time (crypto/tls serialises reads)
	pending []byte  // unread part of *in
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
		}
	}
	return b
}

// batchBuffers hold ciphertext: a relay buffer's worth of plaintext plus
// the record overhead (22 bytes per 16 KiB record with TLS 1.3).
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, relayBufferSize+relayBufferSize/64); return &b }}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		if b.out == nil {
			b.out = batchBuffers.Get().(*[]byte)
		}
		*b.out = append(*b.out, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	if b.out == nil {
		return nil
	}
	_, err := b.Conn.Write(*b.out)
	*b.out = (*b.out)[:0]
	batchBuffers.Put(b.out)
	b.out = nil
	return err
}

// Read hands out what an earlier read took from the network and, when
// nothing is left, takes everything the network holds now in one system
// call, waiting only while there is nothing at all. Deadlines apply as on
// the connection itself.
func (b *batchConn) Read(p []byte) (int, error) {
	if len(b.pending) == 0 && b.raw != nil {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	if len(b.pending) == 0 {
		return b.Conn.Read(p)
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	if len(b.pending) == 0 {
		putBuffer(b.in)
		b.in, b.pending = nil, nil
	}
	return n, nil
}

// release gives back the read buffer of a connection that ended with
// bytes still pending. Only the goroutine that reads may call it, once it
// reads no more: Close cannot, since it runs concurrently with Read.
func (b *batchConn) release() {
	if b.in != nil {
		putBuffer(b.in)
		b.in, b.pending = nil, nil
	}
}

func (b *batchConn) fill() error {
	bp, n, err := readReady(b.raw)
	if err != nil {
		return opError(b.Conn, err)
	}
	b.in, b.pending = bp, (*bp)[:n]
	return nil
}

// readReady waits until the socket is readable, then reads all it holds
// into a pooled buffer, taken only at that moment so that a connection
// waiting for data holds none. The end of the stream is io.EOF.
func readReady(raw syscall.RawConn) (*[]byte, int, error) {
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	err := raw.Read(func(fd uintptr) bool {
		bp = getBuffer()
		for {
			n, rerr = syscall.Read(int(fd), *bp)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			putBuffer(bp)
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return nil, 0, err
	case rerr != nil:
		putBuffer(bp)
		return nil, 0, os.NewSyscallError("read", rerr)
	case n <= 0:
		putBuffer(bp)
		return nil, 0, io.EOF
	}
	return bp, n, nil
}

// opError dresses an error the way net.Conn.Read does, so that callers
// recognise a closed connection, a reset or a timeout as usual.
func opError(c net.Conn, err error) error {
	var oe *net.OpError
	if err == io.EOF || errors.As(err, &oe) {
		return err
	}
	return &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// tlsWrite writes p to a tls.Conn in one network write when it runs over a
// batchConn.
func tlsWrite(tc *tls.Conn, b *batchConn, p []byte) (int, error) {
	if b == nil {
		return tc.Write(p)
	}
	b.begin()
	n, err := tc.Write(p)
	if ferr := b.flush(); err == nil && ferr != nil {
		return 0, ferr
	}
	return n, err
}

// maxRecordPayload is the most plaintext one TLS record carries.
const maxRecordPayload = 16 << 10

// readMore fills buf[n:] from a tls.Conn with the records that have
// already arrived, without waiting for more: a read deadline in the past
// lets crypto/tls hand over what it has buffered and stop at the network.
// Timeouts do not break a tls.Conn's read side.
func readMore(tc *tls.Conn, buf []byte, n int) (int, error) {
	if len(buf)-n < maxRecordPayload {
		return n, nil
	}
	tc.SetReadDeadline(time.Unix(1, 0))
	defer tc.SetReadDeadline(time.Time{})
	for len(buf)-n >= maxRecordPayload {
		m, err := tc.Read(buf[n:])
		n += m
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}
