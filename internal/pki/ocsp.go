package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
	"golang.org/x/time/rate"

	"github.com/tlsgate/tlsgate/internal/store"
)

// OCSP answer lifetime, and how long before nextUpdate a cached answer is
// replaced.
const (
	ocspLifetime   = 6 * time.Hour
	ocspRefresh    = time.Hour
	ocspCacheLimit = 100000
	// Signing is the expensive part of an answer: fresh signatures are
	// limited so that a flood of never-issued serials cannot pin the CPU.
	ocspSignRate  = 2000
	ocspSignBurst = 200
)

// Responder answers RFC 6960 OCSP requests about certificates the
// intermediate issued, signing with the delegated OCSP signer. Answers are
// cached per serial until shortly before their nextUpdate, and thrown away
// as soon as the store shows a different status.
type Responder struct {
	ca      *CA
	signing *rate.Limiter

	mu    sync.Mutex
	cache map[string]ocspEntry
}

type ocspEntry struct {
	revokedAt  time.Time
	thisUpdate time.Time
	der        []byte
	nextUpdate time.Time
}

// NewResponder returns the OCSP responder of ca.
func (ca *CA) NewResponder() *Responder {
	return &Responder{ca: ca, cache: map[string]ocspEntry{}, signing: rate.NewLimiter(ocspSignRate, ocspSignBurst)}
}

// OCSPAnswer is a signed OCSP response and how long it may be cached.
type OCSPAnswer struct {
	DER        []byte
	ThisUpdate time.Time
	NextUpdate time.Time // zero for error responses
}

// Respond turns a DER OCSP request into a DER response. Malformed requests
// and requests about another issuer get the matching OCSP error response,
// not a Go error; a Go error means the responder itself failed.
func (r *Responder) Respond(ctx context.Context, reqDER []byte) (*OCSPAnswer, error) {
	req, err := ocsp.ParseRequest(reqDER)
	if err != nil {
		return &OCSPAnswer{DER: ocsp.MalformedRequestErrorResponse}, nil
	}
	if !r.issuedByUs(req) {
		return &OCSPAnswer{DER: ocsp.UnauthorizedErrorResponse}, nil
	}
	ca := r.ca
	sn := SerialString(req.SerialNumber)
	rec, err := ca.store.Certificate(ctx, sn)
	known := err == nil && rec.Issuer == issuerIntermed
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	now := ca.now()
	if known {
		r.mu.Lock()
		e, ok := r.cache[sn]
		r.mu.Unlock()
		if ok && e.revokedAt.Equal(rec.RevokedAt) && now.Before(e.nextUpdate.Add(-ocspRefresh)) {
			return &OCSPAnswer{DER: e.der, ThisUpdate: e.thisUpdate, NextUpdate: e.nextUpdate}, nil
		}
	}
	if !r.signing.Allow() {
		return &OCSPAnswer{DER: ocsp.TryLaterErrorResponse}, nil
	}
	signer, key, err := ca.ensureOCSPSigner(ctx)
	if err != nil {
		return nil, err
	}
	thisUpdate := now.UTC().Truncate(time.Minute)
	tmpl := ocsp.Response{
		SerialNumber: req.SerialNumber,
		ThisUpdate:   thisUpdate,
		NextUpdate:   thisUpdate.Add(ocspLifetime),
		Certificate:  signer,
		Status:       ocsp.Unknown,
	}
	if known {
		tmpl.Status = ocsp.Good
		if rec.Revoked() {
			tmpl.Status = ocsp.Revoked
			tmpl.RevokedAt = rec.RevokedAt
			tmpl.RevocationReason = rec.RevocationReason
		}
	}
	der, err := ocsp.CreateResponse(ca.inter, signer, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("sign OCSP response: %w", err)
	}
	if known {
		r.mu.Lock()
		if len(r.cache) >= ocspCacheLimit {
			r.cache = map[string]ocspEntry{}
		}
		r.cache[sn] = ocspEntry{revokedAt: rec.RevokedAt, thisUpdate: thisUpdate, der: der, nextUpdate: tmpl.NextUpdate}
		r.mu.Unlock()
	}
	return &OCSPAnswer{DER: der, ThisUpdate: thisUpdate, NextUpdate: tmpl.NextUpdate}, nil
}

// issuedByUs compares the request's issuer name and key hashes with the
// intermediate's, in the hash the client chose.
func (r *Responder) issuedByUs(req *ocsp.Request) bool {
	h := req.HashAlgorithm
	switch h {
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return false
	}
	inter := r.ca.inter
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(inter.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	nh := h.New()
	nh.Write(inter.RawSubject)
	kh := h.New()
	kh.Write(spki.PublicKey.RightAlign())
	return bytes.Equal(nh.Sum(nil), req.IssuerNameHash) && bytes.Equal(kh.Sum(nil), req.IssuerKeyHash)
}

// OCSPRequest builds the DER request for cert as a client would (tests and
// tlsgate's own checks).
func OCSPRequest(cert, issuer *x509.Certificate) ([]byte, error) {
	return ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
}
