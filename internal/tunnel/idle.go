package tunnel

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// idleWatch closes a relayed connection once no byte has moved in either
// direction for its timeout. A peer that stops reading would otherwise
// leave a relay goroutine blocked in a write for good, and a client that
// goes silent would hold both sockets for good.
//
// The relay pays one clock read and one atomic store per read or write
// that moved bytes, rather than a deadline per call: a single timer per
// connection wakes at the earliest moment the connection could be idle,
// and sleeps again for the rest of the timeout when bytes moved since.
//
// Bytes the tunnel has handed over are not delivered yet: one relay write
// of up to 256 KiB to a slow but steady reader can outlast the timeout,
// and so can draining what the kernel still queues after the last write.
// So when a write is in progress or a socket still holds unsent or
// unacknowledged bytes, the timer asks the kernel how many bytes the peers
// have acknowledged (sendProgress): a change since its last look is
// progress, the same count twice means the peer stopped reading. A peer
// that stops reading is therefore cut off after one to two timeouts, a
// silent connection after one. Where the kernel cannot tell (not Linux,
// not TCP), only the tunnel's own reads and writes count.
type idleWatch struct {
	timeout time.Duration
	start   time.Time
	last    atomic.Int64 // time.Since(start) of the last bytes moved, in ns
	writing atomic.Int32 // relay writes in progress
	sockets []net.Conn   // the connection's two sockets, for sendProgress
	shut    func()       // closes both sockets

	mu      sync.Mutex // guards the fields below against check
	timer   *time.Timer
	stopped bool
	fired   bool   // the timeout closed the connection
	acked   uint64 // sendProgress's count at the last look
	looked  bool   // acked holds a look since the last bytes moved
}

// watchIdle starts the timer; timeout <= 0 watches nothing and returns nil,
// whose methods do nothing.
func watchIdle(timeout time.Duration, sockets []net.Conn, shut func()) *idleWatch {
	if timeout <= 0 {
		return nil
	}
	w := &idleWatch{timeout: timeout, start: time.Now(), sockets: sockets, shut: shut}
	w.mu.Lock()
	w.timer = time.AfterFunc(timeout, w.check)
	w.mu.Unlock()
	return w
}

// moved records that bytes moved now.
func (w *idleWatch) moved() {
	if w != nil {
		w.last.Store(int64(time.Since(w.start)))
	}
}

// writeBegins and writeEnds bracket a relay write.
func (w *idleWatch) writeBegins() {
	if w != nil {
		w.writing.Add(1)
	}
}

func (w *idleWatch) writeEnds() {
	if w != nil {
		w.writing.Add(-1)
	}
}

// check runs when the timer fires: it closes the connection if nothing
// moved for the whole timeout, and otherwise sets the timer for the moment
// the timeout would be reached counting from the last bytes.
func (w *idleWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	idle := time.Since(w.start) - time.Duration(w.last.Load())
	if idle < w.timeout {
		w.looked = false
		w.timer.Reset(w.timeout - idle)
		return
	}
	if n, pending, ok := sendProgress(w.sockets); ok && (pending || w.writing.Load() > 0) {
		if !w.looked || n != w.acked {
			// First look, or the peer took bytes since the last: look
			// again one timeout from now.
			if w.looked {
				w.last.Store(int64(time.Since(w.start)))
			}
			w.acked, w.looked = n, true
			w.timer.Reset(w.timeout)
			return
		}
	}
	w.fired, w.stopped = true, true
	w.shut()
}

// stop ends the watch when the relay is over, and reports whether the
// timeout had closed the connection.
func (w *idleWatch) stop() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
	return w.fired
}
