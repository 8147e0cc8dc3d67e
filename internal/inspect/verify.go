package inspect

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// verifyChain checks the presented chain against roots for name at time at.
// A stapled OCSP response that says revoked fails it too.
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, rootsDesc, name string, at time.Time, ocspInfo *OCSPInfo) *VerificationInfo {
	v := &VerificationInfo{Roots: rootsDesc, Name: name, At: at.UTC()}
	if len(chain) == 0 {
		v.Code, v.Reason = "no_certificate", "the server presented no certificate"
		return v
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		v.Code, v.Reason = explain(err, chain, name, at)
		return v
	}
	if ocspInfo != nil && ocspInfo.Status == "revoked" {
		when := ""
		if ocspInfo.RevokedAt != nil {
			when = " on " + ocspInfo.RevokedAt.Format(time.DateOnly)
		}
		v.Code, v.Reason = "revoked", fmt.Sprintf("certificate %q was revoked by its issuer%s (stapled OCSP response): replace it", chain[0].Subject.CommonName, when)
		return v
	}
	if k, ok := chain[0].PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		v.Code, v.Reason = "weak_key", fmt.Sprintf("certificate %q has a %d-bit RSA key, too weak (at least 2048 bits): reissue it with a stronger key", chain[0].Subject.CommonName, k.N.BitLen())
		return v
	}
	v.Verified = true
	for _, c := range chains[0] {
		v.VerifiedChain = append(v.VerifiedChain, c.Subject.String())
	}
	return v
}

// explain turns a crypto/x509 verification error into the reason a user can
// act on.
func explain(err error, chain []*x509.Certificate, name string, at time.Time) (code, reason string) {
	leaf := chain[0]
	var inv x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var insecure x509.InsecureAlgorithmError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		c := inv.Cert
		if at.Before(c.NotBefore) {
			return "not_yet_valid", fmt.Sprintf("certificate %q is not valid before %s (%s from now): check the server's clock or wait", c.Subject.CommonName, c.NotBefore.UTC().Format(time.DateOnly), at.Sub(c.NotBefore).Abs().Round(time.Hour))
		}
		return "expired", fmt.Sprintf("certificate %q expired on %s (%d days ago): renew it", c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly), int(at.Sub(c.NotAfter).Hours()/24))
	case errors.As(err, &host):
		valid := append(append([]string{}, leaf.DNSNames...), ipStrings(leaf)...)
		if len(valid) == 0 {
			return "no_san", fmt.Sprintf("certificate is not valid for %s: it names no host in Subject Alternative Name (only CN %q, which clients ignore): reissue it with the host as a SAN", name, leaf.Subject.CommonName)
		}
		return "wrong_host", fmt.Sprintf("certificate is not valid for %s (valid for %s): connect with a name it covers or reissue it", name, strings.Join(valid, ", "))
	case errors.As(err, &insecure):
		return "weak_signature", fmt.Sprintf("certificate is signed with %s, which is insecure: reissue it with SHA-256 or better", leaf.SignatureAlgorithm)
	case errors.As(err, &unknown):
		for _, c := range chain {
			switch c.SignatureAlgorithm {
			case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1, x509.MD5WithRSA, x509.MD2WithRSA:
				if !selfSigned(c) {
					return "weak_signature", fmt.Sprintf("certificate %q is signed with %s, which is insecure and no longer accepted: reissue it with SHA-256 or better", c.Subject.CommonName, c.SignatureAlgorithm)
				}
			}
		}
		if selfSigned(leaf) {
			return "self_signed", fmt.Sprintf("certificate %q is self-signed: no trusted authority vouches for it; trust it explicitly with --ca or use a certificate from a CA", leaf.Subject.CommonName)
		}
		last := chain[len(chain)-1]
		if selfSigned(last) {
			return "unknown_authority", fmt.Sprintf("certificate chain ends at %q, a root that is not trusted here: pass --ca with the right root or use a publicly trusted CA", last.Subject.CommonName)
		}
		return "incomplete_chain", fmt.Sprintf("certificate chain is incomplete: %q is issued by %q, which the server did not send and is not a trusted root: configure the server to send its intermediate certificates", last.Subject.CommonName, last.Issuer.CommonName)
	}
	if errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage {
		return "wrong_usage", fmt.Sprintf("certificate %q is not allowed for TLS servers (its extended key usage excludes serverAuth): reissue it as a server certificate", leaf.Subject.CommonName)
	}
	return "invalid", err.Error()
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// selfSigned reports whether c names itself as issuer and its own key
// verifies its signature.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
