package certcheck

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// RevocationState is what a revocation source says about a certificate.
type RevocationState string

// Revocation states.
const (
	RevocationUnknown RevocationState = "unknown" // the source has no (usable) answer
	RevocationGood    RevocationState = "good"
	RevocationRevoked RevocationState = "revoked"
)

// RevocationStatus is one source's answer about one certificate.
type RevocationStatus struct {
	State   RevocationState `json:"state"`
	Source  string          `json:"source"`  // "OCSP staple", "CRL", "local CA store", ...
	Subject string          `json:"subject"` // the certificate asked about
	Serial  string          `json:"serial"`  // hex
	// RevokedAt and ReasonCode (RFC 5280 CRLReason) are set when revoked.
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	ReasonCode int       `json:"reason_code,omitempty"`
	ThisUpdate time.Time `json:"this_update,omitzero"`
	NextUpdate time.Time `json:"next_update,omitzero"`
	// Detail explains an unknown answer.
	Detail string `json:"detail,omitempty"`
}

// RevocationChecker answers whether cert, issued by issuer, is revoked at
// time at. Implementations: OCSPResponse (a stapled or fetched response),
// CRLs, RevocationFunc (for a local CA store), Checkers (several in order).
// An error means the source failed; RevocationUnknown means it has no answer.
type RevocationChecker interface {
	CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error)
}

// RevocationFunc adapts a function, such as a lookup in tlsgate's own CA
// store, to RevocationChecker.
type RevocationFunc func(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error)

// CheckRevocation calls f.
func (f RevocationFunc) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error) {
	return f(ctx, cert, issuer, at)
}

// Checkers asks each checker in turn and returns the first good or revoked
// answer; if none has one, the last unknown answer and every error joined.
type Checkers []RevocationChecker

// CheckRevocation implements RevocationChecker.
func (cs Checkers) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error) {
	st := unknown(cert, "", "no revocation source answered")
	var errs []error
	for _, c := range cs {
		s, err := c.CheckRevocation(ctx, cert, issuer, at)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.State != RevocationUnknown {
			return s, nil
		}
		st = s
	}
	return st, errors.Join(errs...)
}

func unknown(cert *x509.Certificate, source, detail string) RevocationStatus {
	return RevocationStatus{State: RevocationUnknown, Source: source, Subject: displayName(cert), Serial: fmt.Sprintf("%X", cert.SerialNumber), Detail: detail}
}

// OCSPResponse is a DER OCSP response, typically stapled by a server.
// Source names it in messages; empty means "OCSP staple".
type OCSPResponse struct {
	Raw    []byte
	Source string
}

// CheckRevocation verifies the response's signature (by issuer, or a
// responder certificate issuer delegated) with x/crypto/ocsp and reads the
// status. A response about another certificate, or outside its validity
// window, is an unknown answer; a malformed or badly signed one an error.
func (o OCSPResponse) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error) {
	src := o.Source
	if src == "" {
		src = "OCSP staple"
	}
	if len(o.Raw) == 0 {
		return unknown(cert, src, "no OCSP response"), nil
	}
	resp, err := ocsp.ParseResponse(o.Raw, issuer)
	if err != nil {
		return unknown(cert, src, err.Error()), fmt.Errorf("%s for %q: %w", src, displayName(cert), err)
	}
	if resp.SerialNumber == nil || resp.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return unknown(cert, src, fmt.Sprintf("response is about serial %X, not this certificate", resp.SerialNumber)), nil
	}
	st := RevocationStatus{Source: src, Subject: displayName(cert), Serial: fmt.Sprintf("%X", cert.SerialNumber),
		ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate}
	const skew = 5 * time.Minute
	switch {
	case resp.ThisUpdate.After(at.Add(skew)):
		st.State, st.Detail = RevocationUnknown, fmt.Sprintf("response is from the future (%s)", resp.ThisUpdate.UTC().Format(time.RFC3339))
		return st, nil
	case !resp.NextUpdate.IsZero() && at.After(resp.NextUpdate.Add(skew)):
		st.State, st.Detail = RevocationUnknown, fmt.Sprintf("response expired on %s (%s)", date(resp.NextUpdate), relDays(daysUntil(resp.NextUpdate, at)))
		return st, nil
	}
	switch resp.Status {
	case ocsp.Good:
		st.State = RevocationGood
	case ocsp.Revoked:
		st.State, st.RevokedAt, st.ReasonCode = RevocationRevoked, resp.RevokedAt, resp.RevocationReason
	default:
		st.State, st.Detail = RevocationUnknown, "responder does not know the certificate"
	}
	return st, nil
}

// CRLs is a set of certificate revocation lists.
type CRLs []*x509.RevocationList

// ParseCRLs parses DER (or PEM-decoded) CRLs.
func ParseCRLs(der ...[]byte) (CRLs, error) {
	var out CRLs
	for i, d := range der {
		l, err := x509.ParseRevocationList(d)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", i+1, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// DecodeCRLs reads every CRL in b, a file or a fetched body: PEM blocks
// "X509 CRL", or one DER list. The lists' signatures are checked later,
// against the issuer of the certificate being checked.
func DecodeCRLs(b []byte) (CRLs, error) {
	trimmed := bytes.TrimSpace(b)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return ParseCRLs(b)
	}
	var ders [][]byte
	for rest := trimmed; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "X509 CRL" {
			ders = append(ders, blk.Bytes)
		}
	}
	if len(ders) == 0 {
		return nil, errors.New("no X509 CRL PEM block")
	}
	return ParseCRLs(ders...)
}

// CheckRevocation looks for cert in the CRLs its issuer signed (checked with
// CheckSignatureFrom) that are current at at.
func (cs CRLs) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate, at time.Time) (RevocationStatus, error) {
	st := unknown(cert, "CRL", fmt.Sprintf("no current CRL from %q", displayName(issuer)))
	var errs []error
	for _, l := range cs {
		if !bytes.Equal(l.RawIssuer, issuer.RawSubject) {
			continue
		}
		if err := l.CheckSignatureFrom(issuer); err != nil {
			errs = append(errs, fmt.Errorf("CRL from %q: signature does not verify: %w", displayName(issuer), err))
			continue
		}
		if !l.NextUpdate.IsZero() && at.After(l.NextUpdate) {
			st.Detail = fmt.Sprintf("CRL from %q expired on %s (%s)", displayName(issuer), date(l.NextUpdate), relDays(daysUntil(l.NextUpdate, at)))
			continue
		}
		st = RevocationStatus{State: RevocationGood, Source: "CRL", Subject: displayName(cert), Serial: fmt.Sprintf("%X", cert.SerialNumber),
			ThisUpdate: l.ThisUpdate, NextUpdate: l.NextUpdate}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 && !e.RevocationTime.After(at) {
				st.State, st.RevokedAt, st.ReasonCode = RevocationRevoked, e.RevocationTime, e.ReasonCode
				return st, nil
			}
		}
		return st, nil
	}
	return st, errors.Join(errs...)
}

// crlReasons names RFC 5280 CRLReason codes.
var crlReasons = map[int]string{
	0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged", 4: "superseded",
	5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL", 9: "privilegeWithdrawn", 10: "aACompromise",
}

// checkRevocation asks the stapled response (leaf only) and in.Revocation
// (every certificate below the root) and fails the result on a revocation.
func checkRevocation(ctx context.Context, in Input, chain []*x509.Certificate, at time.Time, res *Result) (Result, bool) {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		var sources Checkers
		if i == 0 && len(in.Stapled) > 0 {
			sources = append(sources, OCSPResponse{Raw: in.Stapled})
		}
		if in.Revocation != nil {
			sources = append(sources, in.Revocation)
		}
		if len(sources) == 0 {
			continue
		}
		st, err := sources.CheckRevocation(ctx, cert, issuer, at)
		res.Revocation = append(res.Revocation, st)
		if st.State == RevocationRevoked {
			res.Reason = ReasonRevoked
			res.Err = err
			reason := ""
			if n, ok := crlReasons[st.ReasonCode]; ok && st.ReasonCode != 0 {
				reason = ", reason " + n
			}
			res.Message = fmt.Sprintf("%s (serial %s) was revoked on %s (%s) according to the %s%s: replace it with a newly issued certificate",
				role(cert, i == 0), st.Serial, date(st.RevokedAt), relDays(daysUntil(st.RevokedAt, at)), st.Source, reason)
			res.Problems = []Problem{{res.Reason, res.Message}}
			return *res, true
		}
		if st.State == RevocationUnknown {
			w := fmt.Sprintf("revocation status of %s is unknown", role(cert, i == 0))
			if st.Detail != "" {
				w += ": " + st.Detail
			}
			if err != nil {
				w += fmt.Sprintf(" (%v)", err)
			}
			res.Warnings = append(res.Warnings, w)
		}
	}
	return Result{}, false
}

// ReasonRevocationUnknown is the refusal reason for a client whose
// revocation status could not be learned while checking fails closed.
const ReasonRevocationUnknown = "revocation_unknown"

// RefuseRevokedClient asks checker, within timeout, about the leaf of a
// verified client chain (its issuer the next certificate) and returns why
// the client is refused — ReasonRevoked, or ReasonRevocationUnknown unless
// failOpen — with a message naming the serial and the source, or "" when
// the client may pass.
func RefuseRevokedClient(ctx context.Context, checker RevocationChecker, chain []*x509.Certificate, timeout time.Duration, failOpen bool) (reason, msg string) {
	leaf := chain[0]
	var issuer *x509.Certificate
	if len(chain) > 1 {
		issuer = chain[1]
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := checker.CheckRevocation(ctx, leaf, issuer, time.Now())
	switch {
	case st.State == RevocationRevoked:
		return string(ReasonRevoked), fmt.Sprintf("client certificate serial %X was revoked on %s according to the %s",
			leaf.SerialNumber, st.RevokedAt.UTC().Format(time.DateOnly), st.Source)
	case st.State == RevocationGood && err == nil, failOpen:
		return "", ""
	}
	detail := st.Detail
	if err != nil {
		detail = err.Error()
	}
	return ReasonRevocationUnknown, fmt.Sprintf("revocation status of client certificate serial %X is unknown (%s); refused because revocation checking fails closed",
		leaf.SerialNumber, detail)
}
