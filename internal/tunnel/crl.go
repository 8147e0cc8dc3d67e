package tunnel

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// CRLFiles checks client certificates against certificate revocation lists
// read from files (PEM or DER) and re-read when they change, so a CA that
// publishes a new CRL by replacing the file is followed without a restart.
// A new file that does not parse is refused and the previous lists kept.
type CRLFiles struct {
	files    []string
	interval time.Duration
	log      *slog.Logger

	crls  atomic.Pointer[certcheck.CRLs]
	mu    sync.Mutex
	stamp []fileStamp
}

// NewCRLFiles reads the CRL files, failing if one cannot be read.
func NewCRLFiles(files []string, interval time.Duration, log *slog.Logger) (*CRLFiles, error) {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &CRLFiles{files: files, interval: interval, log: log}
	if err := c.reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

// CheckRevocation implements certcheck.RevocationChecker.
func (c *CRLFiles) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (certcheck.RevocationStatus, error) {
	if issuer == nil {
		return certcheck.RevocationStatus{State: certcheck.RevocationUnknown, Source: "CRL", Detail: "no issuer to match a CRL against"}, nil
	}
	return c.crls.Load().CheckRevocation(ctx, cert, issuer, at)
}

// Run re-reads changed files until ctx is done.
func (c *CRLFiles) Run(ctx context.Context) {
	pollEvery(ctx, c.interval, func() { c.reload(false) })
}

func (c *CRLFiles) reload(force bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := make([]fileStamp, len(c.files))
	for i, f := range c.files {
		st[i] = stat(f)
	}
	if !force && equalStamps(st, c.stamp) {
		return nil
	}
	c.stamp = st
	var all certcheck.CRLs
	for _, f := range c.files {
		crls, err := readCRLFile(f)
		if err != nil {
			if !force {
				c.log.Error("CRL reload refused; still using the previous lists", "file", f, "error", err)
			}
			return err
		}
		all = append(all, crls...)
	}
	c.crls.Store(&all)
	for _, l := range all {
		c.log.Info("CRL loaded", "issuer", l.Issuer.String(), "entries", len(l.RevokedCertificateEntries),
			"next_update", l.NextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

func equalStamps(a, b []fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// readCRLFile reads every CRL in a file: PEM blocks "X509 CRL", or one DER
// list.
func readCRLFile(name string) (certcheck.CRLs, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("CRL file: %w", err)
	}
	crls, err := certcheck.DecodeCRLs(b)
	if err != nil {
		return nil, fmt.Errorf("CRL file %s: %w", name, err)
	}
	return crls, nil
}

// AllRevocationCheckers asks every checker and answers revoked if one says
// so, good only if all say so, and unknown otherwise. (certcheck.Checkers
// stops at the first answer, which would let a stale "good" hide a
// revocation another source knows about.)
type AllRevocationCheckers []certcheck.RevocationChecker

// CheckRevocation implements certcheck.RevocationChecker.
func (all AllRevocationCheckers) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (certcheck.RevocationStatus, error) {
	var good certcheck.RevocationStatus
	var unknown *certcheck.RevocationStatus
	var errs []error
	for _, c := range all {
		st, err := c.CheckRevocation(ctx, cert, issuer, at)
		switch {
		case st.State == certcheck.RevocationRevoked:
			return st, nil
		case err != nil || st.State != certcheck.RevocationGood:
			if err != nil {
				errs = append(errs, err)
			}
			if unknown == nil {
				unknown = &st
			}
		default:
			good = st
		}
	}
	if unknown != nil {
		return *unknown, errors.Join(errs...)
	}
	return good, nil
}
