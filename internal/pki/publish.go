package pki

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxOCSPRequest bounds the body of an OCSP POST; real requests are a few
// hundred bytes.
const maxOCSPRequest = 16 << 10

// Publisher serves what relying parties need over plain HTTP (CRLs and OCSP
// answers are signed; serving them over HTTPS would make checking a
// certificate depend on checking another):
//
//	GET  /crl/intermediate.crl  CRL of leaf certificates (DER)
//	GET  /crl/root.crl          CRL of the root (DER)
//	POST /ocsp                  OCSP (RFC 6960), also GET /ocsp/{base64 request}
//	GET  /ca/root.pem           root certificate (PEM); /ca/root.cer in DER
//	GET  /ca/chain.pem          intermediate then root (PEM); /ca/intermediate.cer in DER
//	GET  /root/{sha256}         root PEM if its fingerprint matches (trust bootstrap)
type Publisher struct {
	ca     *CA
	ocsp   *Responder
	logger *slog.Logger

	mu      sync.Mutex
	crls    map[string]*RevocationList
	counted map[string]int
}

// NewPublisher prepares the HTTP publication of ca. It signs both CRLs once
// so that a missing root key or wrong passphrase shows at start.
func (ca *CA) NewPublisher(ctx context.Context, logger *slog.Logger) (*Publisher, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Publisher{ca: ca, ocsp: ca.NewResponder(), logger: logger, crls: map[string]*RevocationList{}, counted: map[string]int{}}
	for _, which := range []string{issuerIntermed, issuerRoot} {
		if _, err := p.crl(ctx, which); err != nil {
			return nil, err
		}
	}
	if _, _, err := ca.ensureOCSPSigner(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// crl returns the current CRL of issuer, signing a new one when a
// revocation was added (by any process) or the old one nears nextUpdate.
func (p *Publisher) crl(ctx context.Context, issuer string) (*RevocationList, error) {
	n, err := p.ca.revocationCount(ctx, issuer)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.crls[issuer]
	life := crlLifetime
	if issuer == issuerRoot {
		life = rootCRLLifetime
	}
	if cur != nil && p.counted[issuer] == n && p.ca.now().Before(cur.NextUpdate.Add(-life/3)) {
		return cur, nil
	}
	var next *RevocationList
	if issuer == issuerRoot {
		next, err = p.ca.RootRevocationList(ctx)
	} else {
		next, err = p.ca.RevocationList(ctx)
	}
	if err != nil {
		return nil, err
	}
	p.crls[issuer], p.counted[issuer] = next, n
	p.logger.Info("signed CRL", "issuer", issuer, "entries", next.Entries, "next_update", next.NextUpdate)
	return next, nil
}

// Handler returns the HTTP handler of the routes above.
func (p *Publisher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /crl/intermediate.crl", p.serveCRL(issuerIntermed))
	mux.HandleFunc("GET /crl/root.crl", p.serveCRL(issuerRoot))
	mux.HandleFunc("POST /ocsp", p.serveOCSPPost)
	mux.HandleFunc("POST /ocsp/", p.serveOCSPPost)
	mux.HandleFunc("GET /ocsp/", p.serveOCSPGet)
	ca := p.ca
	mux.HandleFunc("GET /ca/root.pem", staticFile("application/x-pem-file", ca.rootPEM))
	mux.HandleFunc("GET /ca/chain.pem", staticFile("application/x-pem-file", ca.ChainPEM()))
	mux.HandleFunc("GET /ca/root.cer", staticFile("application/pkix-cert", ca.root.Raw))
	mux.HandleFunc("GET /ca/intermediate.cer", staticFile("application/pkix-cert", ca.inter.Raw))
	mux.HandleFunc("GET /root/{fingerprint}", func(w http.ResponseWriter, r *http.Request) {
		fp := strings.ToLower(strings.ReplaceAll(r.PathValue("fingerprint"), ":", ""))
		if subtle.ConstantTimeCompare([]byte(fp), []byte(ca.RootFingerprint())) != 1 {
			http.Error(w, "no root with this SHA-256 fingerprint here", http.StatusNotFound)
			return
		}
		staticFile("application/x-pem-file", ca.rootPEM)(w, r)
	})
	return mux
}

func staticFile(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(body)
	}
}

func (p *Publisher) serveCRL(issuer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l, err := p.crl(r.Context(), issuer)
		if err != nil {
			p.logger.Error("CRL unavailable", "issuer", issuer, "err", err)
			http.Error(w, "CRL unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		cacheHeaders(w, l.ThisUpdate, l.NextUpdate, p.ca.now())
		w.Write(l.DER)
	}
}

func (p *Publisher) serveOCSPPost(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequest))
	if err != nil {
		http.Error(w, "OCSP request too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	p.answerOCSP(w, r, body)
}

// serveOCSPGet decodes the RFC 6960 appendix A GET form: the DER request in
// base64, URL-escaped, as the last path element.
func (p *Publisher) serveOCSPGet(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/ocsp/")
	if len(raw) > 2*maxOCSPRequest {
		http.Error(w, "OCSP request too large", http.StatusRequestURITooLong)
		return
	}
	s, err := url.PathUnescape(raw)
	if err != nil {
		http.Error(w, "malformed OCSP GET request", http.StatusBadRequest)
		return
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		der, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	if err != nil {
		http.Error(w, "OCSP GET request is not base64", http.StatusBadRequest)
		return
	}
	p.answerOCSP(w, r, der)
}

func (p *Publisher) answerOCSP(w http.ResponseWriter, r *http.Request, der []byte) {
	a, err := p.ocsp.Respond(r.Context(), der)
	if err != nil {
		p.logger.Error("OCSP responder failed", "err", err)
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(ocspInternalError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	if !a.NextUpdate.IsZero() {
		cacheHeaders(w, a.ThisUpdate, a.NextUpdate, p.ca.now())
	}
	w.Write(a.DER)
}

// ocspInternalError is the OCSPResponse with status internalError (2).
var ocspInternalError = []byte{0x30, 0x03, 0x0a, 0x01, 0x02}

func cacheHeaders(w http.ResponseWriter, this, next, now time.Time) {
	maxAge := int(next.Sub(now).Seconds())
	if maxAge < 0 {
		maxAge = 0
	}
	if !this.IsZero() {
		w.Header().Set("Last-Modified", this.UTC().Format(http.TimeFormat))
	}
	w.Header().Set("Expires", next.UTC().Format(http.TimeFormat))
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, no-transform, must-revalidate", maxAge))
}
