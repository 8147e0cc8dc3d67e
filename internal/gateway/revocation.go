package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// maxCRLBytes bounds a fetched CRL; the local CA's lists are a few KiB.
const maxCRLBytes = 16 << 20

// CRLURL checks client certificates against a CRL fetched from an http(s)
// URL every refresh interval. Until the first fetch succeeds, and while the
// last good list is past its NextUpdate, the status is unknown.
type CRLURL struct {
	url     string
	refresh time.Duration
	log     *slog.Logger
	client  *http.Client

	crls    atomic.Pointer[certcheck.CRLs]
	lastErr atomic.Pointer[string]
}

// NewCRLURL returns a CRL source for url; Run fetches it.
func NewCRLURL(url string, refresh time.Duration, log *slog.Logger) *CRLURL {
	if refresh <= 0 {
		refresh = time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &CRLURL{url: url, refresh: refresh, log: log, client: &http.Client{Timeout: 15 * time.Second}}
	msg := "not fetched yet"
	c.lastErr.Store(&msg)
	return c
}

// CheckRevocation implements certcheck.RevocationChecker.
func (c *CRLURL) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (certcheck.RevocationStatus, error) {
	crls := c.crls.Load()
	if crls == nil || issuer == nil {
		detail := "CRL " + c.url + ": " + *c.lastErr.Load()
		if issuer == nil {
			detail = "no issuer to match a CRL against"
		}
		return certcheck.RevocationStatus{State: certcheck.RevocationUnknown, Source: "CRL " + c.url, Detail: detail}, nil
	}
	return crls.CheckRevocation(ctx, cert, issuer, at)
}

// Run fetches the CRL now and every refresh interval until ctx is done. A
// failed fetch keeps the previous list.
func (c *CRLURL) Run(ctx context.Context) {
	t := time.NewTicker(c.refresh)
	defer t.Stop()
	for {
		if err := c.fetch(ctx); err != nil && ctx.Err() == nil {
			msg := err.Error()
			c.lastErr.Store(&msg)
			c.log.Error("CRL fetch failed; keeping the previous list", "url", c.url, "error", msg)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *CRLURL) fetch(ctx context.Context) error {
	crls, err := fetchCRL(ctx, c.client, c.url)
	if err != nil {
		return err
	}
	c.crls.Store(&crls)
	c.log.Info("CRL fetched", "url", c.url, "lists", len(crls))
	return nil
}

// fetchCRL downloads and parses the CRLs at url.
func fetchCRL(ctx context.Context, client *http.Client, url string) (certcheck.CRLs, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CRL %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLBytes+1))
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %w", url, err)
	}
	if len(b) > maxCRLBytes {
		return nil, fmt.Errorf("CRL %s is larger than %d bytes", url, maxCRLBytes)
	}
	crls, err := certcheck.DecodeCRLs(b)
	if err != nil {
		return nil, fmt.Errorf("CRL %s: %w", url, err)
	}
	return crls, nil
}

// CRLDistributionPoints checks each client certificate against the CRL at
// the first http(s) distribution point it names, fetched when first needed
// and again once older than the refresh interval. Only certificates that
// the client CAs verified reach a revocation check, so the URLs fetched are
// ones a trusted CA wrote.
type CRLDistributionPoints struct {
	refresh time.Duration
	client  *http.Client

	mu    sync.Mutex
	lists map[string]*distributionPoint
}

type distributionPoint struct {
	mu      sync.Mutex
	crls    certcheck.CRLs
	fetched time.Time
}

// maxDistributionPoints bounds the lists kept; past it they are dropped.
const maxDistributionPoints = 1000

// NewCRLDistributionPoints returns a checker that refreshes lists every
// refresh.
func NewCRLDistributionPoints(refresh time.Duration) *CRLDistributionPoints {
	if refresh <= 0 {
		refresh = time.Minute
	}
	return &CRLDistributionPoints{refresh: refresh, client: &http.Client{Timeout: 15 * time.Second}, lists: map[string]*distributionPoint{}}
}

// CheckRevocation implements certcheck.RevocationChecker.
func (d *CRLDistributionPoints) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (certcheck.RevocationStatus, error) {
	url := ""
	for _, u := range cert.CRLDistributionPoints {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			url = u
			break
		}
	}
	if url == "" || issuer == nil {
		return certcheck.RevocationStatus{State: certcheck.RevocationUnknown, Source: "CRL distribution point",
			Detail: "the certificate names no http(s) CRL distribution point"}, nil
	}
	d.mu.Lock()
	dp := d.lists[url]
	if dp == nil {
		if len(d.lists) >= maxDistributionPoints {
			clear(d.lists)
		}
		dp = &distributionPoint{}
		d.lists[url] = dp
	}
	d.mu.Unlock()
	dp.mu.Lock()
	if dp.crls == nil || time.Since(dp.fetched) > d.refresh {
		crls, err := fetchCRL(ctx, d.client, url)
		switch {
		case err == nil:
			dp.crls = crls
		case dp.crls == nil:
			dp.mu.Unlock()
			return certcheck.RevocationStatus{State: certcheck.RevocationUnknown, Source: "CRL " + url, Detail: err.Error()}, err
		}
		// After a failure the previous list serves until the next try;
		// certcheck refuses it once past its NextUpdate.
		dp.fetched = time.Now()
	}
	crls := dp.crls
	dp.mu.Unlock()
	return crls.CheckRevocation(ctx, cert, issuer, at)
}

// OCSPChecker asks the OCSP responder each client certificate names and
// keeps its answer for the refresh interval (and no longer than the
// answer's own NextUpdate, which certcheck enforces).
type OCSPChecker struct {
	refresh time.Duration
	client  *http.Client

	mu    sync.Mutex
	cache map[[32]byte]ocspAnswer
}

type ocspAnswer struct {
	raw     []byte
	fetched time.Time
}

// maxOCSPCache bounds the cached answers; past it the cache starts over.
const maxOCSPCache = 10000

// NewOCSPChecker returns an OCSP checker that renews answers every refresh.
func NewOCSPChecker(refresh time.Duration) *OCSPChecker {
	if refresh <= 0 {
		refresh = time.Minute
	}
	return &OCSPChecker{refresh: refresh, client: &http.Client{Timeout: 10 * time.Second}, cache: map[[32]byte]ocspAnswer{}}
}

// CheckRevocation implements certcheck.RevocationChecker.
func (o *OCSPChecker) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (certcheck.RevocationStatus, error) {
	if len(cert.OCSPServer) == 0 || issuer == nil {
		return certcheck.RevocationStatus{State: certcheck.RevocationUnknown, Source: "OCSP",
			Detail: "the certificate names no OCSP responder"}, nil
	}
	responder := cert.OCSPServer[0]
	key := sha256.Sum256(append(append([]byte(nil), issuer.Raw...), cert.Raw...))
	o.mu.Lock()
	a, ok := o.cache[key]
	o.mu.Unlock()
	if !ok || time.Since(a.fetched) > o.refresh {
		raw, err := o.ask(ctx, responder, cert, issuer)
		if err != nil {
			return certcheck.RevocationStatus{State: certcheck.RevocationUnknown, Source: "OCSP " + responder, Detail: err.Error()}, err
		}
		a = ocspAnswer{raw: raw, fetched: time.Now()}
		o.mu.Lock()
		if len(o.cache) >= maxOCSPCache {
			clear(o.cache)
		}
		o.cache[key] = a
		o.mu.Unlock()
	}
	return certcheck.OCSPResponse{Raw: a.raw, Source: "OCSP " + responder}.CheckRevocation(ctx, cert, issuer, at)
}

func (o *OCSPChecker) ask(ctx context.Context, responder string, cert, issuer *x509.Certificate) ([]byte, error) {
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responder, bytes.NewReader(der))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OCSP responder %s answered HTTP %d", responder, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
