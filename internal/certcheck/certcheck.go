// Package certcheck says why a certificate chain is or is not trusted. It
// runs crypto/x509's verifier (never one of its own), then names the one
// reason a person must act on, such as "expired on 2026-01-02 (12 days
// ago)", "missing intermediate", or "revoked according to the OCSP staple",
// and adds policy checks x509 leaves out: weak keys and revocation. inspect,
// scan, tunnel and the gateway all report trust through this package, so the
// same fault reads the same everywhere.
package certcheck

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// Reason is a stable, machine-readable verdict code, fit for metric labels
// and JSON.
type Reason string

// Reasons, one per fault a person fixes differently.
const (
	ReasonOK               Reason = "ok"
	ReasonNoCertificate    Reason = "no_certificate"
	ReasonExpired          Reason = "expired"
	ReasonNotYetValid      Reason = "not_yet_valid"
	ReasonHostnameMismatch Reason = "hostname_mismatch"
	ReasonCNOnly           Reason = "cn_only"           // host named only in the legacy Common Name
	ReasonSelfSigned       Reason = "self_signed"       // leaf signed by its own key, not trusted
	ReasonUnknownAuthority Reason = "unknown_authority" // chain ends at a CA nobody trusts
	ReasonIncompleteChain  Reason = "incomplete_chain"  // an intermediate was not sent
	ReasonWeakSignature    Reason = "weak_signature"    // SHA-1 or MD5 signature
	ReasonWeakKey          Reason = "weak_key"          // RSA < 2048 bits, small curves, DSA
	ReasonRevoked          Reason = "revoked"           // by OCSP, CRL or a local store
	ReasonWrongUsage       Reason = "wrong_usage"       // extended key usage does not allow the use
	ReasonInvalidCA        Reason = "invalid_ca"        // an issuer is not allowed to issue
	ReasonNameConstraints  Reason = "name_constraints"  // a CA's name constraints forbid the name
	ReasonRejectedByPeer   Reason = "rejected_by_peer"  // the other side refused our certificate
	ReasonOther            Reason = "other"
)

// Reasons lists every Reason, for pre-registering metric label values.
func Reasons() []Reason {
	return []Reason{ReasonOK, ReasonNoCertificate, ReasonExpired, ReasonNotYetValid, ReasonHostnameMismatch, ReasonCNOnly,
		ReasonSelfSigned, ReasonUnknownAuthority, ReasonIncompleteChain, ReasonWeakSignature, ReasonWeakKey, ReasonRevoked,
		ReasonWrongUsage, ReasonInvalidCA, ReasonNameConstraints, ReasonRejectedByPeer, ReasonOther}
}

// Default policy thresholds.
const (
	DefaultMinRSABits = tlspolicy.MinRSABits
	// ExpiryWarningDays: a valid leaf closer than this to expiry gets a warning.
	ExpiryWarningDays = 14
)

// Input is what to check.
type Input struct {
	// Chain is the certificates as the peer presented them, leaf first.
	Chain []*x509.Certificate
	// Roots are the trusted roots; nil means the system's.
	Roots *x509.CertPool
	// Name is the DNS name or IP address the peer must be valid for; empty
	// skips the name check (client certificates).
	Name string
	// At is the time of verification; zero means now.
	At time.Time
	// Usages the leaf must allow; nil means server authentication. Use
	// []x509.ExtKeyUsage{x509.ExtKeyUsageAny} to accept any.
	Usages []x509.ExtKeyUsage
	// Stapled is a DER OCSP response the peer stapled, checked for the leaf.
	Stapled []byte
	// Revocation, when set, is asked about every certificate of the verified
	// chain below the root.
	Revocation RevocationChecker
	// MinRSABits overrides DefaultMinRSABits.
	MinRSABits int
}

// Result is the verdict.
type Result struct {
	OK     bool   `json:"ok"`
	Reason Reason `json:"reason"`
	// Message says, in one sentence, what is wrong, about which certificate,
	// with dates and day counts, and what to do.
	Message string `json:"message"`
	// Certificates describes the presented chain, leaf first.
	Certificates []Facts `json:"certificates,omitempty"`
	// Revocation holds the revocation answers obtained, leaf first.
	Revocation []RevocationStatus `json:"revocation,omitempty"`
	// Problems lists every fault found when the check fails: the verdict
	// first, then others crypto/x509 stopped before reporting (an expired
	// certificate that is also for the wrong host).
	Problems []Problem `json:"problems,omitempty"`
	// Warnings are problems that do not fail the check (expiring soon,
	// revocation status unknown).
	Warnings []string `json:"warnings,omitempty"`
	// Chains are the verified chains from crypto/x509 (empty on failure).
	Chains [][]*x509.Certificate `json:"-"`
	// Err is the underlying crypto/x509 or revocation error, if any.
	Err error `json:"-"`
}

// AsError returns nil for a passing result, else an error whose text is the
// message and which unwraps to the underlying x509 error.
func (r Result) AsError() error {
	if r.OK {
		return nil
	}
	return &Error{Result: r}
}

// Error carries a failed Result through error returns.
type Error struct{ Result Result }

func (e *Error) Error() string { return e.Result.Message }
func (e *Error) Unwrap() error { return e.Result.Err }

// ReasonOf returns the Reason carried by err (ReasonOK for nil, ReasonOther
// when err carries none), looking through wrapping.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonOK
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Result.Reason
	}
	if r, ok := FromTLSError(err); ok {
		return r.Reason
	}
	return ReasonOther
}

// Verify checks in.Chain and explains the verdict.
func Verify(ctx context.Context, in Input) Result {
	at := in.At
	if at.IsZero() {
		at = time.Now()
	}
	if len(in.Chain) == 0 || in.Chain[0] == nil {
		msg := "no certificate was presented: configure the peer to send its certificate chain"
		return Result{Reason: ReasonNoCertificate, Message: msg, Problems: []Problem{{ReasonNoCertificate, msg}}}
	}
	usages := in.Usages
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	res := Result{Certificates: describeChain(in.Chain, at)}
	inter := x509.NewCertPool()
	for _, c := range in.Chain[1:] {
		if c != nil {
			inter.AddCert(c)
		}
	}
	chains, err := in.Chain[0].Verify(x509.VerifyOptions{
		Roots:         in.Roots,
		Intermediates: inter,
		DNSName:       in.Name,
		CurrentTime:   at,
		KeyUsages:     usages,
	})
	minRSA := in.MinRSABits
	if minRSA == 0 {
		minRSA = DefaultMinRSABits
	}
	if err != nil {
		res.Err = err
		res.Reason, res.Message = explain(err, in.Chain, in.Name, usages, at)
		withProblems(&res, in.Chain, in.Name, usages, at, minRSA)
		return res
	}
	res.Chains = chains
	chain := chains[0]

	for i, c := range chain {
		if weak, what := weakKey(c, minRSA); weak {
			res.Reason = ReasonWeakKey
			res.Message = weakKeyMessage(c, i == 0, what, minRSA)
			withProblems(&res, in.Chain, in.Name, usages, at, minRSA)
			return res
		}
	}

	if r, stop := checkRevocation(ctx, in, chain, at, &res); stop {
		return r
	}

	leaf := chain[0]
	if d := daysUntil(leaf.NotAfter, at); d < ExpiryWarningDays {
		res.Warnings = append(res.Warnings, expiresSoonMessage(leaf, at))
	}
	res.OK = true
	res.Reason = ReasonOK
	res.Message = okMessage(leaf, chain, at)
	return res
}
