package tunnel

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// The relay moves bulk data in as few system calls as it can: crypto/tls
// writes each record (16 KiB at most) with its own write and returns at
// most one record per read, so a naive copy makes four system calls per
// 64 KiB on the TLS side and four more on the plaintext side.

// batchConn sits under a tls.Conn and, while a batch is open, gathers the
// records of one tls.Conn.Write into a single write to the network.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		b.buf = append(b.buf, p...)
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
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
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
