package tlspolicy

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// SignatureScheme describes a TLS signature algorithm code point: an entry
// of the IANA "TLS SignatureScheme" registry, or one of the TLS 1.2
// hash/signature pairs (RFC 5246) that predate it.
type SignatureScheme struct {
	ID          tls.SignatureScheme
	Name        string // IANA name, e.g. "ecdsa_secp256r1_sha256"
	Algorithm   string // "RSA-PKCS1", "RSA-PSS", "ECDSA", "EdDSA", "DSA", "ML-DSA", "SM2", "GOST", ...
	Hash        string // "MD5", "SHA1", "SHA224", "SHA256", ... or "" when intrinsic
	TLS13       bool   // may sign a TLS 1.3 handshake
	PostQuantum bool
	Legacy      bool // TLS 1.2 hash/signature pair, not a TLS 1.3 scheme
}

// Snapshot of the IANA "TLS SignatureScheme" registry including ML-DSA
// (0x0904-0x0906).
var signatureSchemes = []SignatureScheme{
	{ID: 0x0101, Name: "rsa_pkcs1_md5", Algorithm: "RSA-PKCS1", Hash: "MD5", Legacy: true},
	{ID: 0x0102, Name: "dsa_md5", Algorithm: "DSA", Hash: "MD5", Legacy: true},
	{ID: 0x0103, Name: "ecdsa_md5", Algorithm: "ECDSA", Hash: "MD5", Legacy: true},
	{ID: 0x0201, Name: "rsa_pkcs1_sha1", Algorithm: "RSA-PKCS1", Hash: "SHA1"},
	{ID: 0x0202, Name: "dsa_sha1", Algorithm: "DSA", Hash: "SHA1", Legacy: true},
	{ID: 0x0203, Name: "ecdsa_sha1", Algorithm: "ECDSA", Hash: "SHA1"},
	{ID: 0x0301, Name: "rsa_pkcs1_sha224", Algorithm: "RSA-PKCS1", Hash: "SHA224", Legacy: true},
	{ID: 0x0302, Name: "dsa_sha224", Algorithm: "DSA", Hash: "SHA224", Legacy: true},
	{ID: 0x0303, Name: "ecdsa_sha224", Algorithm: "ECDSA", Hash: "SHA224", Legacy: true},
	{ID: 0x0401, Name: "rsa_pkcs1_sha256", Algorithm: "RSA-PKCS1", Hash: "SHA256"},
	{ID: 0x0402, Name: "dsa_sha256", Algorithm: "DSA", Hash: "SHA256", Legacy: true},
	{ID: 0x0403, Name: "ecdsa_secp256r1_sha256", Algorithm: "ECDSA", Hash: "SHA256", TLS13: true},
	{ID: 0x0420, Name: "rsa_pkcs1_sha256_legacy", Algorithm: "RSA-PKCS1", Hash: "SHA256"},
	{ID: 0x0501, Name: "rsa_pkcs1_sha384", Algorithm: "RSA-PKCS1", Hash: "SHA384"},
	{ID: 0x0502, Name: "dsa_sha384", Algorithm: "DSA", Hash: "SHA384", Legacy: true},
	{ID: 0x0503, Name: "ecdsa_secp384r1_sha384", Algorithm: "ECDSA", Hash: "SHA384", TLS13: true},
	{ID: 0x0520, Name: "rsa_pkcs1_sha384_legacy", Algorithm: "RSA-PKCS1", Hash: "SHA384"},
	{ID: 0x0601, Name: "rsa_pkcs1_sha512", Algorithm: "RSA-PKCS1", Hash: "SHA512"},
	{ID: 0x0602, Name: "dsa_sha512", Algorithm: "DSA", Hash: "SHA512", Legacy: true},
	{ID: 0x0603, Name: "ecdsa_secp521r1_sha512", Algorithm: "ECDSA", Hash: "SHA512", TLS13: true},
	{ID: 0x0620, Name: "rsa_pkcs1_sha512_legacy", Algorithm: "RSA-PKCS1", Hash: "SHA512"},
	{ID: 0x0704, Name: "eccsi_sha256", Algorithm: "ECCSI", Hash: "SHA256"},
	{ID: 0x0705, Name: "iso_ibs1", Algorithm: "ISO-IBS"},
	{ID: 0x0706, Name: "iso_ibs2", Algorithm: "ISO-IBS"},
	{ID: 0x0707, Name: "iso_chinese_ibs", Algorithm: "ISO-IBS"},
	{ID: 0x0708, Name: "sm2sig_sm3", Algorithm: "SM2", Hash: "SM3", TLS13: true},
	{ID: 0x0709, Name: "gostr34102012_256a", Algorithm: "GOST", Hash: "STREEBOG256", TLS13: true},
	{ID: 0x070A, Name: "gostr34102012_256b", Algorithm: "GOST", Hash: "STREEBOG256", TLS13: true},
	{ID: 0x070B, Name: "gostr34102012_256c", Algorithm: "GOST", Hash: "STREEBOG256", TLS13: true},
	{ID: 0x070C, Name: "gostr34102012_256d", Algorithm: "GOST", Hash: "STREEBOG256", TLS13: true},
	{ID: 0x070D, Name: "gostr34102012_512a", Algorithm: "GOST", Hash: "STREEBOG512", TLS13: true},
	{ID: 0x070E, Name: "gostr34102012_512b", Algorithm: "GOST", Hash: "STREEBOG512", TLS13: true},
	{ID: 0x070F, Name: "gostr34102012_512c", Algorithm: "GOST", Hash: "STREEBOG512", TLS13: true},
	{ID: 0x0804, Name: "rsa_pss_rsae_sha256", Algorithm: "RSA-PSS", Hash: "SHA256", TLS13: true},
	{ID: 0x0805, Name: "rsa_pss_rsae_sha384", Algorithm: "RSA-PSS", Hash: "SHA384", TLS13: true},
	{ID: 0x0806, Name: "rsa_pss_rsae_sha512", Algorithm: "RSA-PSS", Hash: "SHA512", TLS13: true},
	{ID: 0x0807, Name: "ed25519", Algorithm: "EdDSA", TLS13: true},
	{ID: 0x0808, Name: "ed448", Algorithm: "EdDSA", TLS13: true},
	{ID: 0x0809, Name: "rsa_pss_pss_sha256", Algorithm: "RSA-PSS", Hash: "SHA256", TLS13: true},
	{ID: 0x080A, Name: "rsa_pss_pss_sha384", Algorithm: "RSA-PSS", Hash: "SHA384", TLS13: true},
	{ID: 0x080B, Name: "rsa_pss_pss_sha512", Algorithm: "RSA-PSS", Hash: "SHA512", TLS13: true},
	{ID: 0x081A, Name: "ecdsa_brainpoolP256r1tls13_sha256", Algorithm: "ECDSA", Hash: "SHA256", TLS13: true},
	{ID: 0x081B, Name: "ecdsa_brainpoolP384r1tls13_sha384", Algorithm: "ECDSA", Hash: "SHA384", TLS13: true},
	{ID: 0x081C, Name: "ecdsa_brainpoolP512r1tls13_sha512", Algorithm: "ECDSA", Hash: "SHA512", TLS13: true},
	{ID: 0x0904, Name: "mldsa44", Algorithm: "ML-DSA", TLS13: true, PostQuantum: true},
	{ID: 0x0905, Name: "mldsa65", Algorithm: "ML-DSA", TLS13: true, PostQuantum: true},
	{ID: 0x0906, Name: "mldsa87", Algorithm: "ML-DSA", TLS13: true, PostQuantum: true},
}

// Strength classifies the scheme by its hash and algorithm.
func (s SignatureScheme) Strength() Strength {
	switch {
	case s.Hash == "MD5" || s.Hash == "SHA1":
		return Insecure // chosen-prefix collisions (SLOTH, SHAmbles)
	case s.Hash == "SHA224" || s.Algorithm == "DSA":
		return Weak
	}
	return Strong
}

func (s SignatureScheme) String() string { return s.Name }

// SignatureSchemes returns every known scheme, sorted by code point.
func SignatureSchemes() []SignatureScheme { return append([]SignatureScheme(nil), signatureSchemes...) }

// SignatureSchemeByID looks up a scheme by code point.
func SignatureSchemeByID(id tls.SignatureScheme) (SignatureScheme, bool) {
	for _, s := range signatureSchemes {
		if s.ID == id {
			return s, true
		}
	}
	return SignatureScheme{}, false
}

// SignatureSchemeByName looks up a scheme by IANA name, ignoring case.
func SignatureSchemeByName(name string) (SignatureScheme, bool) {
	for _, s := range signatureSchemes {
		if strings.EqualFold(s.Name, strings.TrimSpace(name)) {
			return s, true
		}
	}
	return SignatureScheme{}, false
}

// SignatureSchemeName names a scheme code point, or gives its hex value.
func SignatureSchemeName(id tls.SignatureScheme) string {
	if s, ok := SignatureSchemeByID(id); ok {
		return s.Name
	}
	if IsGREASE(uint16(id)) {
		return fmt.Sprintf("GREASE 0x%04X", uint16(id))
	}
	return fmt.Sprintf("unknown scheme 0x%04X", uint16(id))
}
