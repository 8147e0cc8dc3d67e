package certsource

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// StapleOptions tune OCSP stapling.
type StapleOptions struct {
	Logger *slog.Logger
	// Client fetches OCSP responses; nil uses one with a 10 second timeout.
	Client *http.Client
	// OnFetch is called after every fetch with its result, once the
	// result is in effect.
	OnFetch func(leaf *x509.Certificate, err error)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Stapled staples a fresh OCSP response to the certificates of another
// source when they name an OCSP responder, so clients learn the
// certificate is not revoked without asking the CA themselves. Responses
// are fetched in the background and refreshed halfway through their
// validity; a handshake never waits for the responder. A response that
// does not verify, or says the certificate is revoked, is not stapled.
type Stapled struct {
	inner Source
	opts  StapleOptions

	mu      sync.Mutex
	base    *tls.Certificate // the inner certificate the staple belongs to
	stapled *tls.Certificate // copy of base with OCSPStaple set
	refresh time.Time        // when to fetch again
	wake    chan struct{}
}

// NewStapled wraps inner.
func NewStapled(inner Source, opts StapleOptions) *Stapled {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Stapled{inner: inner, opts: opts, wake: make(chan struct{}, 1)}
}

// GetCertificate implements Source.
func (s *Stapled) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c, err := s.inner.GetCertificate(hello)
	if err != nil || c == nil || !staplable(c) {
		return c, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == c && s.stapled != nil {
		return s.stapled, nil
	}
	if s.base != c {
		// A new certificate (reload or renewal): fetch for it now.
		s.base, s.stapled, s.refresh = c, nil, time.Time{}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return c, nil
}

// Leaves implements Source.
func (s *Stapled) Leaves() []*x509.Certificate { return s.inner.Leaves() }

func staplable(c *tls.Certificate) bool {
	return c.Leaf != nil && len(c.Leaf.OCSPServer) > 0 && len(c.Certificate) > 1
}

// Run fetches and refreshes staples, and runs the inner source's
// background work, until ctx is done.
func (s *Stapled) Run(ctx context.Context) {
	if r, ok := s.inner.(Runner); ok {
		go r.Run(ctx)
	}
	// Prime with the current certificate so the first clients get a staple.
	s.GetCertificate(&tls.ClientHelloInfo{})
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		next := s.fetchDue(ctx)
		t.Reset(next)
	}
}

// fetchDue fetches when the staple is missing or due and returns how long
// to wait before looking again.
func (s *Stapled) fetchDue(ctx context.Context) time.Duration {
	s.mu.Lock()
	base, due := s.base, s.refresh
	s.mu.Unlock()
	now := s.opts.Now()
	if base == nil {
		return time.Minute
	}
	if !due.IsZero() && now.Before(due) {
		return due.Sub(now)
	}
	staple, refresh, err := s.fetch(ctx, base)
	if s.opts.OnFetch != nil {
		// Observers learn of a fetch once its outcome is in effect: a
		// handshake that follows sees the new staple (or its absence).
		defer s.opts.OnFetch(base.Leaf, err)
	}
	if err != nil {
		if s.opts.Logger != nil {
			s.opts.Logger.Warn("OCSP staple not refreshed; retrying in a minute",
				"subject", base.Leaf.Subject.String(), "responder", base.Leaf.OCSPServer[0], "error", err)
		}
		s.mu.Lock()
		if s.base == base {
			s.refresh = now.Add(time.Minute)
			// A staple past its NextUpdate is worse than none.
			if s.stapled != nil && !stapleValid(s.stapled.OCSPStaple, now) {
				s.stapled = nil
			}
		}
		s.mu.Unlock()
		return time.Minute
	}
	cp := *base
	cp.OCSPStaple = staple
	s.mu.Lock()
	if s.base == base {
		s.stapled, s.refresh = &cp, refresh
	}
	s.mu.Unlock()
	return max(refresh.Sub(now), time.Second)
}

func stapleValid(der []byte, now time.Time) bool {
	r, err := ocsp.ParseResponse(der, nil)
	return err == nil && (r.NextUpdate.IsZero() || now.Before(r.NextUpdate))
}

// fetch asks the certificate's OCSP responder and verifies the answer
// against the issuer in the chain.
func (s *Stapled) fetch(ctx context.Context, c *tls.Certificate) ([]byte, time.Time, error) {
	issuer, err := x509.ParseCertificate(c.Certificate[1])
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("parse issuer certificate: %w", err)
	}
	reqDER, err := ocsp.CreateRequest(c.Leaf, issuer, nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	url := c.Leaf.OCSPServer[0]
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(reqDER))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, time.Time{}, fmt.Errorf("OCSP responder %s answered %s", url, resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("OCSP responder %s: %w", url, err)
	}
	r, err := ocsp.ParseResponseForCert(der, c.Leaf, issuer)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("OCSP response from %s does not verify: %w", url, err)
	}
	now := s.opts.Now()
	switch {
	case r.Status == ocsp.Revoked:
		return nil, time.Time{}, fmt.Errorf("the CA says certificate %s is REVOKED (since %s): replace it", c.Leaf.SerialNumber.Text(16), r.RevokedAt.UTC().Format(time.RFC3339))
	case r.Status != ocsp.Good:
		return nil, time.Time{}, errors.New("OCSP status unknown for this certificate")
	case !r.NextUpdate.IsZero() && !now.Before(r.NextUpdate):
		return nil, time.Time{}, fmt.Errorf("OCSP response from %s is stale (next update %s)", url, r.NextUpdate.UTC().Format(time.RFC3339))
	}
	refresh := now.Add(time.Hour)
	if !r.NextUpdate.IsZero() {
		refresh = r.ThisUpdate.Add(r.NextUpdate.Sub(r.ThisUpdate) / 2)
		if refresh.Before(now) {
			refresh = now.Add(time.Minute)
		}
	}
	return der, refresh, nil
}
