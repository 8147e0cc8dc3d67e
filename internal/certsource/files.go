package certsource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPollInterval is how often Files looks for changed files. Polling
// rather than inotify is deliberate: it follows symlink swaps (Kubernetes
// secret volumes replace a "..data" symlink) and editors that write a new
// file and rename it, without any special cases.
const DefaultPollInterval = 2 * time.Second

// FilesOptions tunes a Files source. The zero value is usable.
type FilesOptions struct {
	// PollInterval is how often the files are checked; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// Roots, when set, must verify the chain in the certificate file.
	// Without it the chain is checked for internal consistency: each
	// certificate must be signed by the next one in the file.
	Roots *x509.CertPool
	// Logger receives reload results; nil discards them.
	Logger *slog.Logger
	// OnReload is called after every reload attempt with its result (nil on
	// success), so callers can count failures.
	OnReload func(certFile string, err error)
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Files serves a certificate and key read from PEM files and reloads them
// when they change. A broken new pair (unreadable, key not matching the
// certificate, chain not verifying, expired) is refused: the previous pair
// keeps being served and the error is logged and reported.
type Files struct {
	certFile, keyFile string
	opts              FilesOptions

	cert atomic.Pointer[tls.Certificate]

	mu      sync.Mutex // serialises reloads
	stamp   fileStamp  // of the last attempt, to skip unchanged files
	lastSum [32]byte   // of the last accepted pair
}

// fileStamp identifies a version of the two files cheaply, before reading.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
	certIno, keyIno   uint64
}

// NewFiles loads certFile and keyFile. It fails when the first load fails,
// so a misconfigured gateway never starts.
func NewFiles(certFile, keyFile string, opts FilesOptions) (*Files, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := &Files{certFile: certFile, keyFile: keyFile, opts: opts}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// GetCertificate implements Source.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cert.Load(), nil
}

// Leaves implements Source.
func (f *Files) Leaves() []*x509.Certificate { return []*x509.Certificate{f.cert.Load().Leaf} }

// Run polls the files until ctx is done and reloads them when they change.
func (f *Files) Run(ctx context.Context) {
	t := time.NewTicker(f.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.reloadIfChanged()
		}
	}
}

func (f *Files) reloadIfChanged() {
	st, err := f.statFiles()
	f.mu.Lock()
	same := err == nil && st == f.stamp
	f.mu.Unlock()
	if same {
		return
	}
	_ = f.Reload()
}

// Reload reads both files now and swaps them in when they are a valid pair.
// On error the served pair does not change.
func (f *Files) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, _ := f.statFiles()
	f.stamp = st
	cert, sum, err := f.load()
	if err == nil && sum == f.lastSum && f.cert.Load() != nil {
		return nil // touched but identical
	}
	if err != nil {
		if f.opts.OnReload != nil {
			f.opts.OnReload(f.certFile, err)
		}
		if f.cert.Load() != nil && f.opts.Logger != nil {
			f.opts.Logger.Error("certificate reload refused; still serving the previous certificate",
				"cert", f.certFile, "key", f.keyFile, "error", err)
		}
		return err
	}
	f.cert.Store(cert)
	f.lastSum = sum
	if f.opts.OnReload != nil {
		f.opts.OnReload(f.certFile, nil)
	}
	if f.opts.Logger != nil {
		f.opts.Logger.Info("certificate loaded", "cert", f.certFile,
			"subject", cert.Leaf.Subject.String(), "names", cert.Leaf.DNSNames,
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

func (f *Files) load() (*tls.Certificate, [32]byte, error) {
	var sum [32]byte
	certPEM, err := os.ReadFile(f.certFile)
	if err != nil {
		return nil, sum, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(f.keyFile)
	if err != nil {
		return nil, sum, fmt.Errorf("read private key: %w", err)
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	h.Sum(sum[:0])
	cert, err := ParsePair(certPEM, keyPEM, f.opts.Roots, f.opts.Now())
	if err != nil {
		return nil, sum, fmt.Errorf("%s and %s: %w", f.certFile, f.keyFile, err)
	}
	return cert, sum, nil
}

func (f *Files) statFiles() (fileStamp, error) {
	// os.Stat follows symlinks, so a swapped link shows a new inode.
	c, err := os.Stat(f.certFile)
	if err != nil {
		return fileStamp{}, err
	}
	k, err := os.Stat(f.keyFile)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{
		certMod: c.ModTime(), keyMod: k.ModTime(),
		certSize: c.Size(), keySize: k.Size(),
		certIno: inode(c), keyIno: inode(k),
	}, nil
}

// ParsePair parses a PEM certificate chain and private key and checks what a
// client would check before trusting the pair: the key matches the leaf, the
// leaf is valid at now, and the chain verifies (against roots when given,
// else each certificate against the next one in the file).
func ParsePair(certPEM, keyPEM []byte, roots *x509.CertPool, now time.Time) (*tls.Certificate, error) {
	if len(bytes.TrimSpace(certPEM)) == 0 {
		return nil, errors.New("certificate file is empty")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate and key do not form a pair: %w; check that the key file belongs to this certificate", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse leaf certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %q expired on %s: renew it and replace the file",
			leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("certificate %q is not valid before %s: check the clock or the issuer",
			leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if err := verifyChain(&cert, roots, now); err != nil {
		return nil, err
	}
	return &cert, nil
}

// verifyChain runs crypto/x509 verification. Without configured roots the
// last certificate of the file is taken as the anchor, which proves the
// chain is complete and in order, not that anyone trusts it.
func verifyChain(cert *tls.Certificate, roots *x509.CertPool, now time.Time) error {
	chain := make([]*x509.Certificate, 0, len(cert.Certificate))
	chain = append(chain, cert.Leaf)
	for i, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("certificate %d in the chain: %w", i+2, err)
		}
		chain = append(chain, c)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if roots == nil {
		top := chain[len(chain)-1]
		if len(chain) == 1 && !isSelfSigned(top) {
			return nil // a lone leaf: nothing in the file to check it against
		}
		roots = x509.NewCertPool()
		roots.AddCert(top)
	}
	_, err := cert.Leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("certificate chain does not verify: %w; put the leaf first, then its intermediates in order", err)
	}
	return nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}
