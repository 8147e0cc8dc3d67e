package certsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// IssueFunc issues a server certificate for names (DNS names and IP
// literals) from a CA, returning it with its chain and key.
type IssueFunc func(ctx context.Context, names []string) (*tls.Certificate, error)

// LocalOptions tune a Local source.
type LocalOptions struct {
	// Lazy issues on the first handshake instead of at start.
	Lazy   bool
	Logger *slog.Logger
	// OnIssue is called after every issuance attempt (nil on success).
	OnIssue func(names []string, err error)
	// RetryAfter is the wait after a failed renewal; default one minute.
	RetryAfter time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Local serves a certificate from tlsgate's own CA for a fixed set of
// names, and replaces it two thirds into its lifetime without a restart.
// A failed renewal keeps the current certificate and retries.
type Local struct {
	issue IssueFunc
	names []string
	opts  LocalOptions

	cert    atomic.Pointer[tls.Certificate]
	mu      sync.Mutex // serialises issuance
	renewed chan struct{}
}

// NewLocal prepares a source for names; unless opts.Lazy it issues now, so
// a CA problem is reported at start.
func NewLocal(ctx context.Context, issue IssueFunc, names []string, opts LocalOptions) (*Local, error) {
	if len(names) == 0 {
		return nil, errors.New("local certificate source: no names to issue for")
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Local{issue: issue, names: append([]string(nil), names...), opts: opts, renewed: make(chan struct{}, 1)}
	if !opts.Lazy {
		if _, err := l.obtain(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// GetCertificate implements Source.
func (l *Local) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := l.cert.Load(); c != nil {
		return c, nil
	}
	ctx := context.Background()
	if hello != nil && hello.Context() != nil {
		ctx = hello.Context()
	}
	return l.obtain(ctx)
}

// Leaves implements Source.
func (l *Local) Leaves() []*x509.Certificate {
	if c := l.cert.Load(); c != nil {
		return []*x509.Certificate{c.Leaf}
	}
	return nil
}

func (l *Local) obtain(ctx context.Context) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.cert.Load(); c != nil && !l.due(c) {
		return c, nil
	}
	return l.issueLocked(ctx)
}

func (l *Local) issueLocked(ctx context.Context) (*tls.Certificate, error) {
	c, err := l.issue(ctx, l.names)
	if err == nil && c.Leaf == nil {
		if len(c.Certificate) == 0 {
			err = errors.New("the CA returned no certificate")
		} else {
			c.Leaf, err = x509.ParseCertificate(c.Certificate[0])
		}
	}
	if l.opts.OnIssue != nil {
		l.opts.OnIssue(l.names, err)
	}
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %v from the local CA: %w", l.names, err)
	}
	l.cert.Store(c)
	select {
	case l.renewed <- struct{}{}:
	default:
	}
	if l.opts.Logger != nil {
		l.opts.Logger.Info("certificate issued by the local CA", "names", l.names,
			"not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "renew_at", renewAt(c.Leaf).UTC().Format(time.RFC3339))
	}
	return c, nil
}

func (l *Local) due(c *tls.Certificate) bool { return !l.opts.Now().Before(renewAt(c.Leaf)) }

// renewAt is two thirds into the certificate's lifetime.
func renewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// Run renews the certificate when it is due until ctx is done.
func (l *Local) Run(ctx context.Context) {
	for {
		wait := l.opts.RetryAfter
		if c := l.cert.Load(); c != nil {
			wait = renewAt(c.Leaf).Sub(l.opts.Now())
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-l.renewed:
			t.Stop()
			continue // a lazy first issue happened: recompute
		case <-t.C:
		}
		l.mu.Lock()
		c := l.cert.Load()
		if c == nil || l.due(c) {
			if _, err := l.issueLocked(ctx); err != nil {
				if l.opts.Logger != nil {
					l.opts.Logger.Error("certificate renewal failed; still serving the current certificate",
						"names", l.names, "retry_in", l.opts.RetryAfter.String(), "error", err)
				}
				l.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(l.opts.RetryAfter):
				}
				continue
			}
		}
		l.mu.Unlock()
	}
}
