package pki

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxCSRSize bounds what ParseCSR reads; real CSRs are a few kilobytes.
const maxCSRSize = 64 << 10

// ParseCSR decodes a PEM certificate signing request and checks its
// self-signature, proving the requester holds the private key.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > maxCSRSize {
		return nil, fmt.Errorf("CSR is %d bytes, more than the %d accepted", len(data), maxCSRSize)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; expected -----BEGIN CERTIFICATE REQUEST-----")
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("PEM block is %q, not CERTIFICATE REQUEST", block.Type)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("malformed CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: the CSR's signature does not verify (%v): it was altered or not signed by its key", ErrPolicy, err)
	}
	return csr, nil
}

// SignOptions choose the profile and lifetime for a CSR; the names come
// from the CSR itself.
type SignOptions struct {
	Profile  Profile
	Validity time.Duration
}

// CSRRequest turns a checked CSR into an issuance request: its SANs, its
// CN (also as a DNS name when the CSR has no SAN at all, as old tools
// produce), its public key. Other subject fields are dropped: the CA, not
// the requester, decides what the certificate asserts.
func CSRRequest(csr *x509.CertificateRequest, o SignOptions) (Request, error) {
	if _, err := KeyTypeOf(csr.PublicKey); err != nil {
		return Request{}, fmt.Errorf("%w: CSR key: %v", ErrPolicy, err)
	}
	req := Request{Profile: o.Profile, Validity: o.Validity, PublicKey: csr.PublicKey, action: "sign",
		CommonName: csr.Subject.CommonName, DNS: csr.DNSNames, IPs: csr.IPAddresses, Emails: csr.EmailAddresses}
	for _, u := range csr.URIs {
		req.URIs = append(req.URIs, u.String())
	}
	if len(req.DNS)+len(req.IPs)+len(req.URIs)+len(req.Emails) == 0 && req.CommonName != "" && o.Profile != ProfileClient {
		if ip := net.ParseIP(req.CommonName); ip != nil {
			req.IPs = []net.IP{ip}
		} else {
			req.DNS = []string{req.CommonName}
		}
	}
	return req, nil
}

// SignCSR checks a PEM CSR (signature, key type and size, names against
// the CA's policy and name constraints) and issues its certificate.
func (ca *CA) SignCSR(ctx context.Context, csrPEM []byte, o SignOptions) (*Issued, error) {
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	req, err := CSRRequest(csr, o)
	if err != nil {
		return nil, err
	}
	return ca.IssueLeaf(ctx, req)
}
