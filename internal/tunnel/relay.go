package tunnel

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// relayBufferSize is large enough for sixteen full TLS records, so that
// bulk transfers move in few system calls and few wake-ups of the peer.
// Relay buffers are taken from a pool when data has arrived and given back
// when it has been passed on, so an idle connection holds none.
const relayBufferSize = 256 << 10

var relayBuffers = sync.Pool{New: func() any { b := make([]byte, relayBufferSize); return &b }}

// buffersHeld counts relay buffers taken and not given back.
var buffersHeld atomic.Int64

func getBuffer() *[]byte {
	buffersHeld.Add(1)
	return relayBuffers.Get().(*[]byte)
}

func putBuffer(bp *[]byte) {
	buffersHeld.Add(-1)
	relayBuffers.Put(bp)
}

// byteCount counts bytes moved in one direction, for the access log and the
// metrics, as they move rather than at the end.
type byteCount struct {
	n       atomic.Int64
	counter prometheus.Counter

	// srcEnd is how reading the source ended (io.EOF for a clean end), and
	// endedFirst whether it ended before the other direction's source.
	srcEnd     error
	endedFirst bool
	ended      *atomic.Bool // shared by both directions of one relay
	idle       *idleWatch   // shared too; nil when there is no idle timeout
	err        error        // what the pipe returned
	writeErr   error        // how writing to the destination failed, if it did
}

func (c *byteCount) add(n int) {
	if n > 0 {
		c.idle.moved()
	}
	c.n.Add(int64(n))
	c.counter.Add(float64(n))
}

// end is one side of a relay. For a TLS side, tls and batch let the relay
// read and write whole batches of records; for a plaintext side, raw lets
// it wait for data before it takes a buffer.
type end struct {
	net.Conn
	tls   *tls.Conn
	batch *batchConn
	raw   syscall.RawConn
	first []byte // one byte: what a TLS side waits for data with
}

func (e *end) init() {
	if e.tls != nil {
		e.first = make([]byte, 1)
		return
	}
	if sc, ok := e.Conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			e.raw = raw
		}
	}
}

// read waits for data, then returns it in a pooled buffer. While it waits
// it holds no buffer: a plaintext side waits on the socket; a TLS side
// reads a single byte, since crypto/tls may take records that carry no
// data (session tickets, key updates) and then wait for the next one, and
// takes the buffer once that byte has come, with the rest of what arrived.
func (e end) read() (*[]byte, int, error) {
	switch {
	case e.raw != nil:
		bp, n, err := readReady(e.raw)
		if err != nil {
			return nil, 0, opError(e.Conn, err)
		}
		return bp, n, nil
	case e.tls != nil:
		n, err := e.tls.Read(e.first)
		if n == 0 {
			return nil, 0, err
		}
		bp := getBuffer()
		(*bp)[0] = e.first[0]
		if err == nil {
			n, err = readMore(e.tls, *bp, n)
		}
		return bp, n, err
	}
	bp := getBuffer()
	n, err := e.Read(*bp)
	return bp, n, err
}

// relay copies both ways between the accepted connection and the target
// until both directions end. A clean end of one direction is passed on as a
// half-close, so request/response protocols that close their write side
// still get their answer; an error on either side closes both. When no
// byte has moved either way for idleTimeout (if above zero), both sockets
// are closed, which ends reads and writes blocked on them, and idled is
// true.
func relay(accepted, target end, up, down *byteCount, idleTimeout time.Duration) (idled bool, err error) {
	accepted.init()
	target.init()
	errc := make(chan error, 2)
	var ended atomic.Bool
	up.ended, down.ended = &ended, &ended
	idle := watchIdle(idleTimeout, []net.Conn{accepted.socket(), target.socket()}, func() {
		accepted.socket().Close()
		target.socket().Close()
	})
	up.idle, down.idle = idle, idle
	run := func(dst, src end, count *byteCount) {
		count.err = pipe(dst, src, count)
		errc <- count.err
	}
	go run(target, accepted, up)
	go run(accepted, target, down)
	first := <-errc
	if first != nil {
		accepted.abort()
		target.abort()
	}
	second := <-errc
	if second != nil {
		accepted.abort()
		target.abort()
	}
	idled = idle.stop()
	accepted.Close()
	target.Close()
	return idled, errors.Join(first, second)
}

// socket is the network connection under a side, whose Close ends a read
// or write blocked on it at once, also under a tls.Conn.
func (e end) socket() net.Conn {
	if e.batch != nil {
		return e.batch.Conn
	}
	return e.Conn
}

// abort closes a side that failed. For a TLS side it closes the socket
// first: a batched write blocked on a peer that does not read holds the
// write side, and the close_notify that tls.Conn.Close sends would wait
// behind it until crypto/tls's own write deadline (5 s), keeping the
// connection and its buffers that long. With the socket closed, the
// blocked write and the close_notify fail at once.
func (e end) abort() {
	if e.batch != nil {
		e.batch.Conn.Close()
	}
	e.Close()
}

// pipe copies src to dst and half-closes dst at the end of src.
func pipe(dst, src end, count *byteCount) error {
	for {
		bp, n, rerr := src.read()
		if rerr != nil {
			// Taken before the end is passed on, so that the order is
			// the order in which the two sides ended.
			count.srcEnd = rerr
			count.endedFirst = count.ended != nil && count.ended.CompareAndSwap(false, true)
		}
		if n > 0 {
			count.idle.moved()
			var w int
			var werr error
			count.idle.writeBegins()
			if dst.tls != nil {
				w, werr = tlsWrite(dst.tls, dst.batch, (*bp)[:n])
			} else {
				w, werr = dst.Write((*bp)[:n])
			}
			count.idle.writeEnds()
			count.add(w)
			if werr != nil {
				count.writeErr = werr
				putBuffer(bp)
				return werr
			}
		}
		if bp != nil {
			putBuffer(bp)
		}
		if rerr == io.EOF {
			return closeWrite(dst.Conn)
		}
		if rerr != nil {
			return rerr
		}
	}
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
	return c.Close()
}

// quietClose reports whether err is only the noise of a connection closed
// by either side, which the access log does not count as a failure.
func quietClose(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || isReset(err)
}
