package certcheck

import (
	"crypto/x509"
	"slices"
	"time"
)

// Problem is one fault found in a chain.
type Problem struct {
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

// otherProblems looks at the presented chain for faults crypto/x509 did not
// get to report because it stopped at the first: every certificate's
// validity period, the leaf's names and usage, weak signatures and keys.
// These are facts about single certificates, not a verification.
func otherProblems(chain []*x509.Certificate, name string, usages []x509.ExtKeyUsage, at time.Time, minRSA int) []Problem {
	var out []Problem
	add := func(r Reason, msg string) { out = append(out, Problem{r, msg}) }
	leaf := chain[0]
	for i, c := range chain {
		if c == nil {
			continue
		}
		if selfSigned(c) && i > 0 {
			continue // roots' own dates and signatures are the trust store's business
		}
		if r, msg, bad := validity(c, i == 0, at); bad {
			add(r, msg)
		}
		if weakSignatures[c.SignatureAlgorithm] && !selfSigned(c) {
			r, msg := weakSignatureMessage(c, i == 0)
			add(r, msg)
		}
		if weak, what := weakKey(c, minRSA); weak {
			add(ReasonWeakKey, weakKeyMessage(c, i == 0, what, minRSA))
		}
	}
	if name != "" {
		if err := leaf.VerifyHostname(name); err != nil {
			r, msg := explainHostname(leaf, name)
			add(r, msg)
		}
	}
	if !usageAllowed(leaf, usages) {
		r, msg := explainInvalid(x509.CertificateInvalidError{Cert: leaf, Reason: x509.IncompatibleUsage}, leaf, usages, at)
		add(r, msg)
	}
	return out
}

func usageAllowed(c *x509.Certificate, usages []x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	if slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return true
	}
	for _, u := range usages {
		if u == x509.ExtKeyUsageAny || slices.Contains(c.ExtKeyUsage, u) {
			return true
		}
	}
	return false
}

// withProblems sets res.Problems: the verdict first, then every other fault
// found, each once.
func withProblems(res *Result, chain []*x509.Certificate, name string, usages []x509.ExtKeyUsage, at time.Time, minRSA int) {
	if res.OK {
		return
	}
	res.Problems = []Problem{{res.Reason, res.Message}}
	for _, p := range otherProblems(chain, name, usages, at, minRSA) {
		if !slices.Contains(res.Problems, p) {
			res.Problems = append(res.Problems, p)
		}
	}
}
