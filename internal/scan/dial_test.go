package scan

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// acceptCounter is a loopback listener that records how many connections
// are open at once.
func acceptCounter(t *testing.T) (addr string, maxOpen func() int64, total func() int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var open, peak, count atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			n := open.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			go func() {
				buf := make([]byte, 1)
				_, _ = c.Read(buf) // until the client closes
				open.Add(-1)
				c.Close()
			}()
		}
	}()
	return l.Addr().String(), peak.Load, count.Load
}

func TestConnBudgetBoundsConcurrency(t *testing.T) {
	addr, _, total := acceptCounter(t)
	b := newConnBudget(3, nil, 2*time.Second)
	// Count on the client side, between a dial returning and Close: the
	// server side sees a close late and would over-count.
	var open, maxOpen atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := b.dial(context.Background(), addr)
			if err != nil {
				t.Error(err)
				return
			}
			n := open.Add(1)
			mu.Lock()
			maxOpen.Store(max(maxOpen.Load(), n))
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			open.Add(-1)
			c.Close()
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // let the server count the last accepts
	if p := maxOpen.Load(); p > 3 || p < 1 {
		t.Errorf("%d connections were open at once; the budget allows 3", p)
	}
	if n := total(); n != 12 {
		t.Errorf("%d connections made, want 12", n)
	}
}

func TestConnBudgetRate(t *testing.T) {
	addr, _, _ := acceptCounter(t)
	// A burst of 1 at 1000/s: the rate is shared; what matters here is that
	// every dial waits for a token and that a cancelled context stops the
	// wait instead of dialing.
	b := newConnBudget(4, rate.NewLimiter(rate.Every(time.Hour), 1), 2*time.Second)
	c, err := b.dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.dial(ctx, addr); err == nil {
		t.Fatal("a second dial went through although the rate allows one per hour")
	}
	// The slot the refused dial took must have been given back.
	if len(b.slots) != 0 {
		t.Fatalf("%d slots still held after a refused dial", len(b.slots))
	}
}

func TestConnBudgetTimeout(t *testing.T) {
	// A server that accepts and never answers: reads must end at the deadline.
	addr, _, _ := acceptCounter(t)
	b := newConnBudget(1, nil, 200*time.Millisecond)
	c, err := b.dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	if !isTimeout(err) {
		t.Fatalf("read error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("read returned after %v", d)
	}
}
