package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Backoff bounds for retrying a target that refused connections.
const (
	minRetryDelay = 100 * time.Millisecond
	maxRetryDelay = 30 * time.Second
)

// target dials the service behind the tunnel and remembers when it is down:
// while it is, new connections are closed at once (with a log line) instead
// of each waiting for its own failed dial, and a single prober retries with
// exponential backoff until the target answers again.
type target struct {
	addr        string
	dialTimeout time.Duration
	log         *slog.Logger
	m           *Metrics
	dialer      net.Dialer
	// verify, when set, is what the start-up check and the prober do on a
	// fresh connection to decide that the target answers; nil is a plain
	// TCP connect. It closes c.
	verify func(ctx context.Context, c net.Conn) error

	mu       sync.Mutex
	down     bool // new connections fail at once
	probing  bool // a prober runs
	probeGen int  // the running prober's number; a prober whose number is old stops
	lastErr  error
	nextTry  time.Time

	// probers counts the probers started, so that Serve can wait for them.
	probers sync.WaitGroup

	// kick tells the running prober that the target was marked down
	// anew, so that it retries after the shortest delay instead of the
	// long one it may have reached while the tunnel started.
	kick chan struct{}
}

// newTarget starts with the target's state unknown: not ready until check
// or a client's connection has reached it. verify, when not nil, checks a
// fresh connection beyond the TCP connect (see target.verify).
func newTarget(addr string, o Options, verify func(ctx context.Context, c net.Conn) error) *target {
	return &target{addr: addr, dialTimeout: o.DialTimeout, log: o.Logger, m: o.Metrics, verify: verify, kick: make(chan struct{}, 1)}
}

// try connects to the target as the start-up check and the prober do:
// a TCP connect, then verify when set.
func (t *target) try(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, t.dialTimeout)
	c, err := t.dialer.DialContext(dctx, "tcp", t.addr)
	cancel()
	if err != nil {
		return err
	}
	if t.verify == nil {
		c.Close()
		return nil
	}
	return t.verify(ctx, c)
}

// startCheck runs check in the background for one Serve. It returns the
// context that check, the prober and the dials of the connections start
// probers under, and a function that cancels it and waits until the check
// and every prober started have ended. Serve defers that function, so it
// leaves nothing running however it returns, including when its listener
// fails while its own context goes on.
func (t *target) startCheck(ctx context.Context) (context.Context, func()) {
	bg, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.check(bg)
	}()
	return bg, func() {
		cancel()
		<-done
		// The check has ended and so have the connections (Serve waits
		// for them first): nothing can start a prober any more.
		t.probers.Wait()
		// The prober that would have cleared down is gone: a later Serve
		// dials again rather than refuse every connection; a failed dial
		// marks the target down and starts a prober anew.
		t.mu.Lock()
		t.down = false
		t.mu.Unlock()
	}
}

// check connects to the target once, when the tunnel starts, so that
// readiness says whether the target answers before the first client
// comes. A target that does not answer yet leaves the tunnel running and
// not ready, and is retried with backoff until it answers; clients that
// come meanwhile still try it themselves, since tunnels and their targets
// often start in no particular order.
func (t *target) check(ctx context.Context) {
	err := t.try(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil || t.m.targetChecked.Load() {
			return // stopping, or a client got there first
		}
		t.lastErr = err
		t.m.setTargetUp(false)
		t.log.Warn("target does not answer yet; not ready until it does", "target", t.addr, "error", err)
		t.startProbe(ctx)
		return
	}
	if !t.down {
		t.m.setTargetUp(true)
		t.log.Info("target answers", "target", t.addr)
	}
}

// errTargetDown is returned for connections refused while the target is
// known to be down.
type errTargetDown struct {
	addr    string
	lastErr error
	retryIn time.Duration
}

func (e *errTargetDown) Error() string {
	if e.retryIn <= 0 {
		return fmt.Sprintf("target %s is down (%v); retrying now", e.addr, e.lastErr)
	}
	return fmt.Sprintf("target %s is down (%v); next retry in %s", e.addr, e.lastErr, e.retryIn.Round(time.Millisecond))
}

// dial connects to the target, or fails at once while it is down.
func (t *target) dial(ctx context.Context, probeCtx context.Context) (net.Conn, error) {
	t.mu.Lock()
	if t.down {
		err := &errTargetDown{addr: t.addr, lastErr: t.lastErr, retryIn: time.Until(t.nextTry)}
		t.mu.Unlock()
		return nil, err
	}
	t.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, t.dialTimeout)
	defer cancel()
	c, err := t.dialer.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		t.markDown(probeCtx, err)
		return nil, fmt.Errorf("connect to target %s: %w", t.addr, err)
	}
	if t.verify == nil {
		t.reached()
	}
	return c, nil
}

// reached records that a client's connection got through to the target:
// the TCP connect for a plain target, the TLS handshake when the target is
// checked with verify (the caller then calls reached itself).
func (t *target) reached() {
	t.mu.Lock()
	if !t.down {
		if !t.m.targetChecked.Load() || t.m.targetDown.Load() {
			t.m.setTargetUp(true)
		}
		if t.probing {
			// The target answers and is not marked down: the prober the
			// start-up check left running has nothing more to find. A
			// later failure starts a fresh one at the shortest delay.
			t.probing = false
			t.probeGen++
		}
	}
	t.mu.Unlock()
}

func (t *target) markDown(ctx context.Context, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastErr = err
	if t.down {
		return
	}
	t.down = true
	t.nextTry = time.Now().Add(minRetryDelay)
	t.m.setTargetUp(false)
	t.log.Error("target is down; closing new connections until it answers again", "target", t.addr, "error", err)
	if t.probing {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
	t.startProbe(ctx)
}

// startProbe starts the prober unless one runs; t.mu is held.
func (t *target) startProbe(ctx context.Context) {
	if !t.probing {
		t.probing = true
		t.probeGen++
		// A kick meant for an earlier prober is stale.
		select {
		case <-t.kick:
		default:
		}
		gen := t.probeGen
		t.probers.Go(func() { t.probe(ctx, gen) })
	}
}

// probe retries the target with exponential backoff until it answers or ctx
// ends.
// ctx ends, or until a client has reached the target while it was not
// marked down (gen is then no longer the current prober's number).
func (t *target) probe(ctx context.Context, gen int) {
	delay := minRetryDelay
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			t.mu.Lock()
			if t.probeGen == gen {
				t.probing = false
			}
			t.mu.Unlock()
			return
		case <-t.kick:
			// Marked down anew: start again from the shortest delay.
			delay = minRetryDelay
			timer.Reset(delay)
			attempt--
			continue
		case <-timer.C:
		}
		t.mu.Lock()
		stale := t.probeGen != gen
		t.mu.Unlock()
		if stale {
			return
		}
		err := t.try(ctx)
		if err == nil {
			// In one step with clearing down, so that a failure right
			// after starts a new prober.
			t.mu.Lock()
			current := t.probeGen == gen
			if current {
				t.down, t.lastErr, t.probing = false, nil, false
				t.m.setTargetUp(true)
			}
			t.mu.Unlock()
			if current {
				t.log.Info("target answers again", "target", t.addr, "attempts", attempt)
			}
			return
		}
		delay = min(2*delay, maxRetryDelay)
		timer.Reset(delay)
		t.mu.Lock()
		if t.probeGen != gen {
			t.mu.Unlock()
			return
		}
		t.lastErr = err
		t.nextTry = time.Now().Add(delay)
		t.mu.Unlock()
		t.log.Debug("target still down", "target", t.addr, "error", err, "retry_in", delay)
	}
}
