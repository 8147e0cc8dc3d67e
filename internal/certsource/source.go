// Package certsource decides where serving certificates come from: files on
// disk reloaded on change, the local CA, or an ACME directory. Every source
// answers the same question, which certificate to present for a ClientHello,
// so the gateway does not care where a certificate was made.
package certsource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// Source hands out the certificate for a TLS handshake.
type Source interface {
	// GetCertificate returns the certificate to present for hello. It is
	// called on every full handshake and must be cheap and safe for
	// concurrent use.
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
	// Leaves returns the leaf certificates currently served, so that their
	// expiry can be watched.
	Leaves() []*x509.Certificate
}

// Runner is implemented by sources that need background work (watching
// files, renewing certificates). Run blocks until ctx is done.
type Runner interface {
	Run(ctx context.Context)
}

// ErrNoCertificate is returned when a source has nothing to serve for the
// requested name.
var ErrNoCertificate = errors.New("no certificate for this server name")

// Static serves one fixed certificate. It is what tests and callers that
// already hold a key pair use.
type Static struct {
	cert atomic.Pointer[tls.Certificate]
}

// NewStatic returns a source that always serves cert. The leaf is parsed if
// cert.Leaf is nil.
func NewStatic(cert tls.Certificate) (*Static, error) {
	if len(cert.Certificate) == 0 {
		return nil, errors.New("certificate has no DER data")
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("parse leaf certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	s := &Static{}
	s.cert.Store(&cert)
	return s, nil
}

// GetCertificate implements Source.
func (s *Static) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// Leaves implements Source.
func (s *Static) Leaves() []*x509.Certificate { return []*x509.Certificate{s.cert.Load().Leaf} }
