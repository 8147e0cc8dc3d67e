package certcheck

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// weakSignatures are algorithms crypto/x509 refuses to verify.
var weakSignatures = map[x509.SignatureAlgorithm]bool{
	x509.MD2WithRSA: true, x509.MD5WithRSA: true, x509.SHA1WithRSA: true,
	x509.DSAWithSHA1: true, x509.ECDSAWithSHA1: true,
}

// explain turns a crypto/x509 verification error into a Reason and a
// message that says what is wrong and what to do.
func explain(err error, chain []*x509.Certificate, name string, usages []x509.ExtKeyUsage, at time.Time) (Reason, string) {
	leaf := chain[0]
	var (
		invalid  x509.CertificateInvalidError
		hostErr  x509.HostnameError
		unknown  x509.UnknownAuthorityError
		rootsErr x509.SystemRootsError
		insecure x509.InsecureAlgorithmError
	)
	switch {
	case errors.As(err, &invalid):
		return explainInvalid(invalid, leaf, usages, at)
	case errors.As(err, &hostErr):
		return explainHostname(hostErr.Certificate, hostErr.Host)
	case errors.As(err, &unknown), errors.As(err, &insecure):
		return explainUnknownAuthority(chain, peerRole(usages))
	case errors.As(err, &rootsErr):
		return ReasonUnknownAuthority, "the system's trusted roots could not be loaded: install the ca-certificates package or pass the roots to trust (--ca FILE)"
	}
	return ReasonOther, fmt.Sprintf("%s cannot be verified: %v", role(leaf, true), err)
}

func explainInvalid(e x509.CertificateInvalidError, leaf *x509.Certificate, usages []x509.ExtKeyUsage, at time.Time) (Reason, string) {
	c := e.Cert
	if c == nil {
		c = leaf
	}
	isLeaf := c.Equal(leaf)
	switch e.Reason {
	case x509.Expired:
		if r, msg, bad := validity(c, isLeaf, at); bad {
			return r, msg
		}
	case x509.IncompatibleUsage:
		return ReasonWrongUsage, fmt.Sprintf("%s allows %s, not %s: issue one whose extended key usage includes %s",
			role(c, isLeaf), allowedUsages(leaf), usageNames(usages), usageShort(usages))
	case x509.NotAuthorizedToSign:
		return ReasonInvalidCA, fmt.Sprintf("%s issued %q but is not a CA certificate: build the chain from real CA certificates",
			role(c, false), displayName(leaf))
	case x509.CANotAuthorizedForThisName, x509.NameConstraintsWithoutSANs, x509.UnconstrainedName, x509.TooManyConstraints:
		return ReasonNameConstraints, fmt.Sprintf("%s forbids the names in %s (%s): issue the certificate from a CA allowed to name %s",
			role(c, false), role(leaf, true), e.Detail, sans(leaf))
	case x509.CANotAuthorizedForExtKeyUsage:
		return ReasonWrongUsage, fmt.Sprintf("%s may not issue certificates for %s: issue from a CA whose extended key usage allows it",
			role(c, false), usageNames(usages))
	}
	return ReasonOther, fmt.Sprintf("%s is invalid: %v", role(c, isLeaf), e)
}

// validity reports whether c is outside its validity period at at.
func validity(c *x509.Certificate, isLeaf bool, at time.Time) (Reason, string, bool) {
	if at.Before(c.NotBefore) {
		msg := fmt.Sprintf("%s is not valid until %s (%s)", role(c, isLeaf), date(c.NotBefore), relDays(daysUntil(c.NotBefore, at)))
		return ReasonNotYetValid, msg + ": check this machine's clock and the issuing CA's clock, or wait until then", true
	}
	if at.After(c.NotAfter) {
		msg := fmt.Sprintf("%s expired on %s (%s)", role(c, isLeaf), date(c.NotAfter), relDays(daysUntil(c.NotAfter, at)))
		if isLeaf {
			return ReasonExpired, msg + ": renew it (tlsgate ca renew --cert FILE) and reload the server", true
		}
		return ReasonExpired, msg + ": replace the CA certificate the server sends or trusts with a current one", true
	}
	return ReasonOK, "", false
}

func explainHostname(c *x509.Certificate, host string) (Reason, string) {
	if c == nil {
		return ReasonHostnameMismatch, fmt.Sprintf("the certificate is not valid for %q", host)
	}
	noSAN := len(c.DNSNames) == 0 && len(c.IPAddresses) == 0 && len(c.URIs) == 0 && len(c.EmailAddresses) == 0
	if noSAN && c.Subject.CommonName != "" && strings.EqualFold(c.Subject.CommonName, host) {
		return ReasonCNOnly, fmt.Sprintf("certificate names %q only in its Common Name, without a Subject Alternative Name, "+
			"which clients have ignored since 2017 (RFC 6125): reissue it with %q as a DNS name (SAN)", host, host)
	}
	return ReasonHostnameMismatch, fmt.Sprintf("certificate is not valid for %q (valid for: %s): connect using one of those names, or issue a certificate that includes %q",
		host, sans(c), host)
}

// explainUnknownAuthority tells apart a self-signed leaf, a weak signature
// that made x509 discard the real issuer, an untrusted root, and a chain
// the peer sent without its intermediate.
func explainUnknownAuthority(chain []*x509.Certificate, peer string) (Reason, string) {
	leaf := chain[0]
	if selfSigned(leaf) && !leaf.IsCA || selfSigned(leaf) && len(chain) == 1 {
		return ReasonSelfSigned, fmt.Sprintf("certificate %q is self-signed and not trusted: trust it explicitly (--ca FILE) or use a certificate from a trusted CA",
			displayName(leaf))
	}
	// Follow the presented chain from the leaf as far as issuers are present.
	path := []*x509.Certificate{leaf}
	for cur := leaf; len(path) <= len(chain); {
		next := issuerIn(cur, chain)
		if next == nil || next == cur {
			break
		}
		if weakSignatures[cur.SignatureAlgorithm] {
			return weakSignatureMessage(cur, cur == leaf)
		}
		path = append(path, next)
		cur = next
	}
	last := path[len(path)-1]
	if weakSignatures[last.SignatureAlgorithm] && !selfSigned(last) {
		// The issuer may be a trusted root that was rightly not sent: the
		// signature algorithm is what failed.
		return weakSignatureMessage(last, last == leaf)
	}
	if selfSigned(last) {
		return ReasonUnknownAuthority, fmt.Sprintf("certificate chain ends at root CA %q, which is not trusted: if you trust it, add it to the trusted roots (--ca FILE)",
			displayName(last))
	}
	if last == leaf {
		return ReasonIncompleteChain, fmt.Sprintf("incomplete chain: the issuer of %q, %q, was not sent and is not a trusted root: "+
			"configure the %s to send its intermediate certificates (a full-chain file), or trust %q if it is a private root",
			displayName(leaf), issuerName(leaf), peer, issuerName(leaf))
	}
	if last.IsCA {
		// The chain was sent up to an intermediate; its issuer is most
		// likely a root, which peers rightly do not send.
		return ReasonUnknownAuthority, fmt.Sprintf("%s was issued by %q, which is not trusted: if it is your root, add it to the trusted roots (--ca FILE); if it is itself an intermediate, the %s must send it too",
			role(last, false), issuerName(last), peer)
	}
	return ReasonUnknownAuthority, fmt.Sprintf("%s was issued by %q, which is not trusted and was not sent: send the missing intermediate, or trust its root (--ca FILE)",
		role(last, false), issuerName(last))
}

// peerRole names who presented a chain verified for usages: a client when
// it is checked for client authentication, a server otherwise.
func peerRole(usages []x509.ExtKeyUsage) string {
	if slices.Contains(usages, x509.ExtKeyUsageClientAuth) {
		return "client"
	}
	return "server"
}

// issuerIn finds in chain a certificate whose subject is c's issuer and whose
// key verifies c's signature (or, for weak signatures, just the name).
func issuerIn(c *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	var byName *x509.Certificate
	for _, p := range chain {
		if p == nil || p == c || !bytes.Equal(p.RawSubject, c.RawIssuer) {
			continue
		}
		if c.CheckSignatureFrom(p) == nil {
			return p
		}
		if byName == nil {
			byName = p
		}
	}
	return byName
}

func weakSignatureMessage(c *x509.Certificate, isLeaf bool) (Reason, string) {
	return ReasonWeakSignature, fmt.Sprintf("%s is signed with %v, which is broken and no longer accepted: reissue it with a SHA-256 (or stronger) signature",
		role(c, isLeaf), c.SignatureAlgorithm)
}

func weakKeyMessage(c *x509.Certificate, isLeaf bool, what string, minRSA int) string {
	return fmt.Sprintf("%s has a weak %s, below the minimum (RSA %d bits, ECDSA P-256): reissue it with an ECDSA P-256 or RSA %d-bit key",
		role(c, isLeaf), what, minRSA, minRSA)
}

func expiresSoonMessage(c *x509.Certificate, at time.Time) string {
	return fmt.Sprintf("certificate %q expires on %s (%s): renew it soon", displayName(c), date(c.NotAfter), relDays(daysUntil(c.NotAfter, at)))
}

func okMessage(leaf *x509.Certificate, chain []*x509.Certificate, at time.Time) string {
	root := chain[len(chain)-1]
	return fmt.Sprintf("certificate %q is trusted (issued by %q, root %q) and valid until %s (%s)",
		displayName(leaf), issuerName(leaf), displayName(root), date(leaf.NotAfter), relDays(daysUntil(leaf.NotAfter, at)))
}

var usageText = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any purpose",
	x509.ExtKeyUsageServerAuth:      "server authentication (serverAuth)",
	x509.ExtKeyUsageClientAuth:      "client authentication (clientAuth)",
	x509.ExtKeyUsageCodeSigning:     "code signing",
	x509.ExtKeyUsageEmailProtection: "email protection",
	x509.ExtKeyUsageTimeStamping:    "time stamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSP signing",
}

func usageNames(us []x509.ExtKeyUsage) string {
	var n []string
	for _, u := range us {
		if t, ok := usageText[u]; ok {
			n = append(n, t)
		} else {
			n = append(n, fmt.Sprintf("usage %d", u))
		}
	}
	return strings.Join(n, " or ")
}

var usageShortNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny: "anyExtendedKeyUsage", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
	x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
}

func usageShort(us []x509.ExtKeyUsage) string {
	var n []string
	for _, u := range us {
		if s, ok := usageShortNames[u]; ok {
			n = append(n, s)
		}
	}
	return strings.Join(n, " or ")
}

func allowedUsages(c *x509.Certificate) string {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return "any purpose"
	}
	s := usageNames(c.ExtKeyUsage)
	if len(c.UnknownExtKeyUsage) > 0 {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d other usages", len(c.UnknownExtKeyUsage))
	}
	return "only " + s
}
