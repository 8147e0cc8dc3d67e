package tunnel

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// relayBufferSize is large enough for a full TLS record (16 KiB) several
// times over, so that bulk transfers move in few system calls.
const relayBufferSize = 256 << 10

var relayBuffers = sync.Pool{New: func() any { b := make([]byte, relayBufferSize); return &b }}

// byteCount counts bytes moved in one direction, for the access log and the
// metrics, as they move rather than at the end.
type byteCount struct {
	n       atomic.Int64
	counter prometheus.Counter
}

func (c *byteCount) add(n int) {
	c.n.Add(int64(n))
	c.counter.Add(float64(n))
}

// end is one side of a relay. For a TLS side, tls and batch let the relay
// read and write whole batches of records.
type end struct {
	net.Conn
	tls   *tls.Conn
	batch *batchConn
}

// relay copies both ways between the accepted connection and the target
// until both directions end. A clean end of one direction is passed on as a
// half-close, so request/response protocols that close their write side
// still get their answer; an error on either side closes both.
func relay(accepted, target end, up, down *byteCount) error {
	errc := make(chan error, 2)
	go func() { errc <- pipe(target, accepted, up) }()
	go func() { errc <- pipe(accepted, target, down) }()
	first := <-errc
	if first != nil {
		accepted.Close()
		target.Close()
	}
	second := <-errc
	accepted.Close()
	target.Close()
	return errors.Join(first, second)
}

// pipe copies src to dst and half-closes dst at the end of src.
func pipe(dst, src end, count *byteCount) error {
	bp := relayBuffers.Get().(*[]byte)
	defer relayBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if rerr == nil && src.tls != nil {
			n, rerr = readMore(src.tls, buf, n)
		}
		if n > 0 {
			var w int
			var werr error
			if dst.tls != nil {
				w, werr = tlsWrite(dst.tls, dst.batch, buf[:n])
			} else {
				w, werr = dst.Write(buf[:n])
			}
			count.add(w)
			if werr != nil {
				return werr
			}
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
