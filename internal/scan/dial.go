package scan

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// connBudget bounds what a scan does to a server: how many connections are
// open at once (per target), how many new ones start per second (across all
// targets of a run), and how long each may take.
type connBudget struct {
	slots   chan struct{}
	limiter *rate.Limiter
	timeout time.Duration
	dialer  net.Dialer
}

func newConnBudget(concurrency int, limiter *rate.Limiter, timeout time.Duration) *connBudget {
	if concurrency <= 0 {
		concurrency = 1
	}
	return &connBudget{slots: make(chan struct{}, concurrency), limiter: limiter, timeout: timeout}
}

// conn is one probe connection; Close gives its slot back. Close may be
// called more than once and from several goroutines (crypto/tls closes the
// connection itself when a handshake context ends).
type conn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// dial opens one connection to addr once a slot and a rate token are free.
// The connection's deadline is set to the budget's timeout so that no read
// or write can hang.
func (b *connBudget) dial(ctx context.Context, addr string) (*conn, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := func() { <-b.slots }
	if b.limiter != nil {
		if err := b.limiter.Wait(ctx); err != nil {
			release()
			return nil, err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	c, err := b.dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		release()
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	deadline := time.Now().Add(b.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	return &conn{Conn: c, release: release}, nil
}
