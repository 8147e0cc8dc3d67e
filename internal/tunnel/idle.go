package tunnel

import (
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
type idleWatch struct {
	timeout time.Duration
	start   time.Time
	last    atomic.Int64 // time.Since(start) of the last bytes moved, in ns
	shut    func()       // closes both sockets

	mu      sync.Mutex // guards the fields below against check
	timer   *time.Timer
	stopped bool
	fired   bool // the timeout closed the connection
}

// watchIdle starts the timer; timeout <= 0 watches nothing and returns nil,
// whose methods do nothing.
func watchIdle(timeout time.Duration, shut func()) *idleWatch {
	if timeout <= 0 {
		return nil
	}
	w := &idleWatch{timeout: timeout, start: time.Now(), shut: shut}
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
		w.timer.Reset(w.timeout - idle)
		return
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
