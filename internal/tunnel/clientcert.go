package tunnel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
)

// ClientCertFiles presents a client certificate read from PEM files and
// reloads it when the files change. Unlike a serving certificate, the chain
// is not verified here (the server decides whom it trusts); the pair must
// match and the leaf must be within its validity period. A broken new pair
// is refused and the previous one kept.
type ClientCertFiles struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	onReload          func(string, error)

	cur   atomic.Pointer[tls.Certificate]
	mu    sync.Mutex
	stamp [2]fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewClientCertFiles loads certFile and keyFile, failing if the first load
// fails. onReload, when not nil, is told of every reload and its result.
func NewClientCertFiles(certFile, keyFile string, interval time.Duration, log *slog.Logger, onReload func(string, error)) (*ClientCertFiles, error) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &ClientCertFiles{certFile: certFile, keyFile: keyFile, interval: interval, log: log, onReload: onReload}
	if err := f.reload(true); err != nil {
		return nil, err
	}
	return f, nil
}

// Certificate returns the current pair.
func (f *ClientCertFiles) Certificate() (*tls.Certificate, error) { return f.cur.Load(), nil }

// Run polls the files until ctx is done.
func (f *ClientCertFiles) Run(ctx context.Context) {
	pollEvery(ctx, f.interval, func() { f.reload(false) })
}

// pollEvery calls poll every interval until ctx is done.
func pollEvery(ctx context.Context, interval time.Duration, poll func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			poll()
		}
	}
}

func stat(path string) fileStamp {
	fi, err := os.Stat(path) // follows symlinks, so a swapped link counts as a change
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

func (f *ClientCertFiles) reload(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := [2]fileStamp{stat(f.certFile), stat(f.keyFile)}
	if !force && st == f.stamp {
		return nil
	}
	f.stamp = st
	cert, err := loadClientPair(f.certFile, f.keyFile, time.Now())
	if f.onReload != nil {
		f.onReload(f.certFile, err)
	}
	if err != nil {
		if !force {
			f.log.Error("client certificate reload refused; still presenting the previous one", "cert", f.certFile, "key", f.keyFile, "error", err)
		}
		return err
	}
	f.cur.Store(cert)
	f.log.Info("client certificate loaded", "cert", f.certFile, "identity", authz.IdentityFromCertificate(cert.Leaf).String(),
		"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func loadClientPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("client certificate %s with key %s: %w; check that the key belongs to the certificate", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("client certificate %s: %w", certFile, err)
		}
	}
	switch {
	case now.After(cert.Leaf.NotAfter):
		return nil, fmt.Errorf("client certificate %s expired on %s: renew it (tlsgate ca issue --profile client) and replace the file",
			certFile, cert.Leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(cert.Leaf.NotBefore):
		return nil, fmt.Errorf("client certificate %s is not valid before %s: check the clock", certFile, cert.Leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}
