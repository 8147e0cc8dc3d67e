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

	mu      sync.Mutex
	down    bool // new connections fail at once
	probing bool // a prober runs
	lastErr error
	nextTry time.Time
}

// newTarget starts with the target's state unknown: not ready until check
// or a client's connection has reached it.
func newTarget(addr string, o Options) *target {
	return &target{addr: addr, dialTimeout: o.DialTimeout, log: o.Logger, m: o.Metrics}
}

// check connects to the target once, when the tunnel starts, so that
// readiness says whether the target answers before the first client
// comes. A target that does not answer yet leaves the tunnel running and
// not ready, and is retried with backoff until it answers; clients that
// come meanwhile still try it themselves, since tunnels and their targets
// often start in no particular order.
func (t *target) check(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, t.dialTimeout)
	c, err := t.dialer.DialContext(dctx, "tcp", t.addr)
	cancel()
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
	c.Close()
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
	if !t.m.targetChecked.Load() || t.m.targetDown.Load() {
		t.mu.Lock()
		if !t.down {
			t.m.setTargetUp(true)
		}
		t.mu.Unlock()
	}
	return c, nil
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
	t.startProbe(ctx)
}

// startProbe starts the prober unless one runs; t.mu is held.
func (t *target) startProbe(ctx context.Context) {
	if !t.probing {
		t.probing = true
		go t.probe(ctx)
	}
}

// probe retries the target with exponential backoff until it answers or ctx
// ends.
func (t *target) probe(ctx context.Context) {
	delay := minRetryDelay
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			t.mu.Lock()
			t.probing = false
			t.mu.Unlock()
			return
		case <-time.After(delay):
		}
		dctx, cancel := context.WithTimeout(ctx, t.dialTimeout)
		c, err := t.dialer.DialContext(dctx, "tcp", t.addr)
		cancel()
		if err == nil {
			c.Close()
			// In one step with clearing down, so that a failure right
			// after starts a new prober.
			t.mu.Lock()
			t.down, t.lastErr, t.probing = false, nil, false
			t.m.setTargetUp(true)
			t.mu.Unlock()
			t.log.Info("target answers again", "target", t.addr, "attempts", attempt)
			return
		}
		delay = min(2*delay, maxRetryDelay)
		t.mu.Lock()
		t.lastErr = err
		t.nextTry = time.Now().Add(delay)
		t.mu.Unlock()
		t.log.Debug("target still down", "target", t.addr, "error", err, "retry_in", delay)
	}
}
