package tlspolicy

import (
	"crypto"
	"crypto/dsa"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
)

// MinRSABits is the smallest RSA (and finite-field DH) modulus tlsgate
// accepts: NIST SP 800-57's 112-bit security level.
const MinRSABits = 2048

// ModulusStrength classifies an RSA key or a finite-field DH group by its
// modulus size, as scans meet them in certificates and ServerKeyExchange.
func ModulusStrength(bits int) Strength {
	switch {
	case bits <= 0:
		return StrengthUnknown
	case bits < 1024:
		return Insecure // factored or within reach (Logjam, 512-bit export)
	case bits < MinRSABits:
		return Weak
	case bits < 3072:
		return Acceptable // 112-bit security
	}
	return Strong
}

// CurveStrength classifies an elliptic curve by its field size in bits.
func CurveStrength(bits int) Strength {
	switch {
	case bits <= 0:
		return StrengthUnknown
	case bits < 200:
		return Insecure
	case bits < 256:
		return Acceptable // P-224: 112-bit security
	}
	return Strong
}

// PublicKeyStrength classifies a public key (from a certificate or a key
// exchange) and describes it: "RSA 2048", "ECDSA P-256", "Ed25519".
func PublicKeyStrength(pub crypto.PublicKey) (Strength, string) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return ModulusStrength(k.N.BitLen()), fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return CurveStrength(k.Curve.Params().BitSize), "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return Strong, "Ed25519"
	case *ecdh.PublicKey:
		return Strong, fmt.Sprintf("ECDH %v", k.Curve())
	case *dsa.PublicKey:
		// DSA is withdrawn (FIPS 186-5) and unsupported by modern clients.
		s := ModulusStrength(k.P.BitLen())
		if s > Weak {
			s = Weak
		}
		return s, fmt.Sprintf("DSA %d", k.P.BitLen())
	}
	return StrengthUnknown, fmt.Sprintf("%T", pub)
}
