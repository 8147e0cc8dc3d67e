package certsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// ACMETLS1Protocol is the ALPN protocol of the tls-alpn-01 challenge
// (RFC 8737); a site served by an ACME source must offer it.
const ACMETLS1Protocol = "acme-tls/1"

// ACMEOptions configure an ACME source.
type ACMEOptions struct {
	// Directory is the ACME directory URL of the CA.
	Directory string
	// Email is the account contact; optional for most CAs.
	Email string
	// Roots, when set, are the only roots trusted for the ACME server's
	// own HTTPS (a private ACME CA); nil uses the system roots.
	Roots *x509.CertPool
	// StorageDir keeps the account and certificates across restarts.
	StorageDir string
	// DisableHTTP01 and DisableTLSALPN01 turn challenge types off.
	DisableHTTP01, DisableTLSALPN01 bool
	// Logger receives issuance and renewal results.
	Logger *slog.Logger
}

// ACME obtains and renews certificates from an ACME CA with certmagic, the
// library Caddy runs. Challenges are answered by the gateway's own
// listeners: http-01 on the plain HTTP listener (HTTPChallengeHandler),
// tls-alpn-01 in the HTTPS handshake (ALPN acme-tls/1).
type ACME struct {
	names  []string
	logger *slog.Logger
	cache  *certmagic.Cache
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer

	mu      sync.Mutex
	lastErr error // of the latest failed attempt, until one succeeds
}

// NewACME prepares a source for names; certificates are obtained by Run or
// Obtain.
func NewACME(names []string, opts ACMEOptions) (*ACME, error) {
	if len(names) == 0 {
		return nil, errors.New("acme: no names to obtain a certificate for")
	}
	if opts.Directory == "" {
		return nil, errors.New("acme: no directory URL; set the CA's ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory")
	}
	if opts.StorageDir == "" {
		return nil, errors.New("acme: no storage directory")
	}
	a := &ACME{names: append([]string(nil), names...), logger: opts.Logger}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	// certmagic logs through zap; its outcomes reach our log through
	// events instead, so zap stays quiet.
	quiet := zap.NewNop()
	var cache *certmagic.Cache
	cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.cfg, nil },
		Logger:           quiet,
	})
	a.cache = cache
	a.cfg = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: opts.StorageDir},
		Logger:  quiet,
		OnEvent: a.onEvent,
	})
	a.issuer = certmagic.NewACMEIssuer(a.cfg, certmagic.ACMEIssuer{
		CA:                      opts.Directory,
		Email:                   opts.Email,
		Agreed:                  true,
		TrustedRoots:            opts.Roots,
		DisableHTTPChallenge:    opts.DisableHTTP01,
		DisableTLSALPNChallenge: opts.DisableTLSALPN01,
		Logger:                  quiet,
	})
	a.cfg.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// Obtain gets (or loads from storage) certificates for every name and
// returns when all are served, an attempt failed, or ctx is done. It never
// prompts: certmagic's interactive mode asks for an e-mail on the terminal.
func (a *ACME) Obtain(ctx context.Context) error {
	a.mu.Lock()
	a.lastErr = nil
	a.mu.Unlock()
	if err := a.cfg.ManageAsync(ctx, a.names); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if a.haveAll() {
			return nil
		}
		a.mu.Lock()
		err := a.lastErr
		a.mu.Unlock()
		if err != nil {
			return fmt.Errorf("acme: obtain a certificate for %v from %s: %w", a.names, a.issuer.CA, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("acme: no certificate for %v from %s yet: %w", a.names, a.issuer.CA, ctx.Err())
		case <-t.C:
		}
	}
}

func (a *ACME) haveAll() bool {
	for _, n := range a.names {
		if len(a.cache.AllMatchingCertificates(n)) == 0 {
			return false
		}
	}
	return true
}

func (a *ACME) onEvent(ctx context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained":
		a.logger.Info("certificate obtained from the ACME CA", "name", data["identifier"], "renewal", data["renewal"])
	case "cert_failed":
		err, _ := data["error"].(error)
		if err == nil {
			err = errors.New("certificate request failed")
		}
		a.mu.Lock()
		a.lastErr = err
		a.mu.Unlock()
		a.logger.Error("ACME certificate request failed; certmagic retries with backoff", "name", data["identifier"], "renewal", data["renewal"], "error", err)
	}
	return nil
}

// Run obtains certificates in the background and keeps them renewed until
// ctx is done.
func (a *ACME) Run(ctx context.Context) {
	_ = a.cfg.ManageAsync(ctx, a.names)
	<-ctx.Done()
	a.cache.Stop()
}

// Stop ends certmagic's maintenance (renewals) for this source.
func (a *ACME) Stop() { a.cache.Stop() }

// GetCertificate implements Source; it also answers tls-alpn-01 challenges.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.cfg.GetCertificate(hello)
}

// Leaves implements Source.
func (a *ACME) Leaves() []*x509.Certificate {
	var out []*x509.Certificate
	for _, n := range a.names {
		for _, c := range a.cache.AllMatchingCertificates(n) {
			if c.Leaf != nil {
				out = append(out, c.Leaf)
			}
		}
	}
	return out
}

// ALPNProtocols lists the ALPN protocols the site must offer.
func (a *ACME) ALPNProtocols() []string { return []string{ACMETLS1Protocol} }

// HTTPChallengeHandler answers http-01 challenges and passes other
// requests to next.
func (a *ACME) HTTPChallengeHandler(next http.Handler) http.Handler {
	return a.issuer.HTTPChallengeHandler(next)
}
