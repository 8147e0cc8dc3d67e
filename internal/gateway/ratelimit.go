package gateway

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter keeps one token bucket per client address. The table is
// bounded: idle entries are swept, and when it is full new addresses share
// one overflow bucket instead of growing memory without limit.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	clients  map[netip.Addr]*clientBucket
	overflow *rate.Limiter
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const maxRateClients = 100_000

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{
		limit:    rate.Limit(perSecond),
		burst:    burst,
		clients:  map[netip.Addr]*clientBucket{},
		overflow: rate.NewLimiter(rate.Limit(perSecond*100), burst*100),
	}
}

func (l *rateLimiter) allow(a netip.Addr) bool {
	now := time.Now()
	l.mu.Lock()
	b, ok := l.clients[a]
	if !ok {
		if len(l.clients) >= maxRateClients {
			l.mu.Unlock()
			return l.overflow.AllowN(now, 1)
		}
		b = &clientBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[a] = b
	}
	b.seen = now
	l.mu.Unlock()
	return b.lim.AllowN(now, 1)
}

// janitor drops buckets of clients idle for a minute; a refilled bucket is
// the same as a new one, so nothing is lost.
func (l *rateLimiter) janitor(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.mu.Lock()
			for a, b := range l.clients {
				if now.Sub(b.seen) > time.Minute {
					delete(l.clients, a)
				}
			}
			l.mu.Unlock()
		}
	}
}
