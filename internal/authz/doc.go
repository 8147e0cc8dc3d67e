// Package authz decides who may pass once a client certificate has been
// verified: it extracts an Identity from the certificate, matches it against
// a Policy of allow rules (DNS, URI/SPIFFE, email, CN, fingerprint, SPKI),
// consults a DenyList, and builds the X-Client-Cert-* headers passed upstream.
//
// It is shared by the HTTPS gateway and the TCP tunnel so that one rule means
// the same thing everywhere. It never verifies certificates itself: callers
// hand it only certificates that crypto/tls and crypto/x509 already verified.
//
// The rules and their exact semantics are documented in docs/access-control.md.
package authz
