package tlspolicy

import (
	"fmt"
	"sort"
	"strings"
)

// KeyExchange names how a cipher suite agrees on keys.
type KeyExchange string

// Key exchanges. KxAny stands for TLS 1.3 suites, which leave key exchange
// to the negotiated group; KxNone for signalling values.
const (
	KxNone     KeyExchange = ""
	KxNULL     KeyExchange = "NULL"
	KxRSA      KeyExchange = "RSA"   // static RSA key transport
	KxDH       KeyExchange = "DH"    // static Diffie-Hellman from the certificate
	KxDHE      KeyExchange = "DHE"   // ephemeral finite-field Diffie-Hellman
	KxECDH     KeyExchange = "ECDH"  // static elliptic-curve Diffie-Hellman
	KxECDHE    KeyExchange = "ECDHE" // ephemeral elliptic-curve Diffie-Hellman
	KxPSK      KeyExchange = "PSK"
	KxDHEPSK   KeyExchange = "DHE_PSK"
	KxRSAPSK   KeyExchange = "RSA_PSK"
	KxECDHEPSK KeyExchange = "ECDHE_PSK"
	KxSRP      KeyExchange = "SRP"
	KxKRB5     KeyExchange = "KRB5"
	KxECCPWD   KeyExchange = "ECCPWD"
	KxGOST     KeyExchange = "GOST"
	KxCECPQ1   KeyExchange = "CECPQ1"
	KxAny      KeyExchange = "any"
)

// Auth names how a cipher suite authenticates the server.
type Auth string

// Authentication methods. AuthAnon means none at all.
const (
	AuthNone   Auth = ""
	AuthNULL   Auth = "NULL"
	AuthAnon   Auth = "anon"
	AuthRSA    Auth = "RSA"
	AuthDSS    Auth = "DSS"
	AuthECDSA  Auth = "ECDSA"
	AuthPSK    Auth = "PSK"
	AuthSRP    Auth = "SRP"
	AuthKRB5   Auth = "KRB5"
	AuthECCPWD Auth = "ECCPWD"
	AuthGOST   Auth = "GOST"
	AuthAny    Auth = "any"
)

// Cipher names a suite's bulk encryption algorithm.
type Cipher string

// Bulk ciphers.
const (
	CipherNone       Cipher = ""
	CipherNULL       Cipher = "NULL"
	CipherRC4        Cipher = "RC4"
	CipherRC2        Cipher = "RC2"
	CipherDES        Cipher = "DES"
	Cipher3DES       Cipher = "3DES"
	CipherIDEA       Cipher = "IDEA"
	CipherSEED       Cipher = "SEED"
	CipherAES        Cipher = "AES"
	CipherCamellia   Cipher = "CAMELLIA"
	CipherARIA       Cipher = "ARIA"
	CipherChaCha20   Cipher = "CHACHA20"
	CipherAEGIS      Cipher = "AEGIS"
	CipherSM4        Cipher = "SM4"
	CipherGOST28147  Cipher = "GOST28147"
	CipherKuznyechik Cipher = "KUZNYECHIK"
	CipherMagma      Cipher = "MAGMA"
)

// blockBits64 lists ciphers with 64-bit blocks, open to birthday attacks on
// long connections (Sweet32).
var blockBits64 = map[Cipher]bool{CipherDES: true, Cipher3DES: true, CipherIDEA: true, CipherRC2: true, CipherGOST28147: true, CipherMagma: true}

// Mode is how the cipher protects records.
type Mode string

// Record protection modes.
const (
	ModeNone   Mode = ""
	ModeAEAD   Mode = "AEAD"
	ModeCBC    Mode = "CBC"
	ModeStream Mode = "stream"
	ModeNULL   Mode = "NULL" // integrity only, no encryption
)

// CipherSuite describes one TLS cipher suite code point.
type CipherSuite struct {
	ID          uint16
	Name        string // IANA name (for unofficial suites, the name in common use)
	OpenSSLName string // empty when OpenSSL never named it
	KeyExchange KeyExchange
	Auth        Auth
	Cipher      Cipher
	KeyBits     int    // nominal cipher key length (3DES: 168)
	Mode        Mode   // AEAD, CBC, stream or NULL
	AEADVariant string // "CCM" or "CCM8" for CCM suites, else empty
	MAC         string // "MD5", "SHA1", "SHA256", "SHA384", "AEAD", ...

	ForwardSecrecy bool // ephemeral key exchange
	Export         bool // deliberately weakened export suite
	SCSV           bool // signalling value, not a real suite
	Recommended    bool // IANA "Recommended: Y"
	Unofficial     bool // never assigned by IANA, seen in deployed software

	MinVersion uint16 // first protocol version defining the suite
	MaxVersion uint16 // last protocol version allowing it
}

// StrengthBits is the effective symmetric strength in bits, the figure SSL
// Labs-style cipher scores use: 0 for NULL, 112 for 3DES, else the key size.
func (c CipherSuite) StrengthBits() int {
	switch {
	case c.Cipher == CipherNULL || c.SCSV:
		return 0
	case c.Cipher == Cipher3DES:
		return 112
	}
	return c.KeyBits
}

// Strength classifies the suite; Concerns says why it is not Strong.
func (c CipherSuite) Strength() Strength {
	s, _ := c.assess()
	return s
}

// Concerns lists, in plain words, each reason the suite is below Strong.
func (c CipherSuite) Concerns() []string {
	_, why := c.assess()
	return why
}

func (c CipherSuite) assess() (Strength, []string) {
	if c.SCSV {
		return StrengthUnknown, nil
	}
	s := Strong
	var why []string
	lower := func(to Strength, reason string) {
		why = append(why, reason)
		if to < s {
			s = to
		}
	}
	switch {
	case c.Cipher == CipherNULL:
		lower(Insecure, "no encryption (NULL cipher)")
	case c.Export:
		lower(Insecure, fmt.Sprintf("export-grade: %d-bit key", c.KeyBits))
	case c.Cipher == CipherRC4:
		lower(Insecure, "RC4 stream cipher is broken (RFC 7465)")
	case c.Cipher == CipherDES || c.Cipher == CipherRC2:
		lower(Insecure, fmt.Sprintf("%s with a %d-bit key", c.Cipher, c.KeyBits))
	case c.StrengthBits() < 112:
		lower(Insecure, fmt.Sprintf("only %d bits of symmetric strength", c.StrengthBits()))
	}
	if c.Auth == AuthAnon || c.Auth == AuthNULL {
		lower(Insecure, "no server authentication (anonymous)")
	}
	if c.MAC == "MD5" {
		lower(Weak, "HMAC-MD5 record integrity")
	}
	if blockBits64[c.Cipher] {
		lower(Weak, "64-bit block cipher (Sweet32 birthday attack)")
	}
	if !c.ForwardSecrecy {
		lower(Weak, "no forward secrecy: recorded traffic can be decrypted once the server key leaks")
	}
	if c.Mode == ModeCBC {
		lower(Acceptable, "CBC mode with MAC-then-encrypt (padding-oracle prone)")
	}
	if c.Mode == ModeStream && c.Cipher != CipherRC4 {
		lower(Acceptable, "non-AEAD stream mode")
	}
	if c.AEADVariant == "CCM8" {
		lower(Acceptable, "truncated 64-bit authentication tag (CCM_8)")
	}
	if c.Unofficial {
		lower(Acceptable, "not in the IANA registry")
	}
	return s, why
}

// IsAEAD reports whether records are protected by an AEAD cipher.
func (c CipherSuite) IsAEAD() bool { return c.Mode == ModeAEAD }

// BlockBits is the cipher's block size in bits: 64 for DES, 3DES, IDEA, RC2
// and the GOST 64-bit ciphers (open to Sweet32), 128 for other block
// ciphers, 0 for stream ciphers, NULL and suites with no cipher named.
func (c CipherSuite) BlockBits() int {
	switch {
	case blockBits64[c.Cipher]:
		return 64
	case c.Mode == ModeStream || c.Mode == ModeNULL || c.Mode == ModeNone || c.Cipher == CipherChaCha20:
		return 0
	}
	return 128
}

// IsTLS13 reports whether the suite belongs to TLS 1.3.
func (c CipherSuite) IsTLS13() bool { return c.MinVersion == VersionTLS13 }

// SupportsVersion reports whether the suite may be negotiated at version v.
func (c CipherSuite) SupportsVersion(v uint16) bool {
	return !c.SCSV && v >= c.MinVersion && v <= c.MaxVersion
}

func (c CipherSuite) String() string { return c.Name }

var (
	suitesByID   = map[uint16]*CipherSuite{}
	suitesByName = map[string]*CipherSuite{}
)

func init() {
	sort.Slice(cipherSuites, func(i, j int) bool { return cipherSuites[i].ID < cipherSuites[j].ID })
	for i := range cipherSuites {
		c := &cipherSuites[i]
		suitesByID[c.ID] = c
		suitesByName[strings.ToUpper(c.Name)] = c
		if c.OpenSSLName != "" {
			if _, taken := suitesByName[strings.ToUpper(c.OpenSSLName)]; !taken {
				suitesByName[strings.ToUpper(c.OpenSSLName)] = c
			}
		}
	}
}

// CipherSuites returns every known suite, sorted by code point. The slice is
// a copy; change it freely.
func CipherSuites() []CipherSuite { return append([]CipherSuite(nil), cipherSuites...) }

// CipherSuiteByID looks up a suite by code point.
func CipherSuiteByID(id uint16) (CipherSuite, bool) {
	if c, ok := suitesByID[id]; ok {
		return *c, true
	}
	return CipherSuite{}, false
}

// CipherSuiteByName looks up a suite by IANA or OpenSSL name, ignoring case.
func CipherSuiteByName(name string) (CipherSuite, bool) {
	if c, ok := suitesByName[strings.ToUpper(strings.TrimSpace(name))]; ok {
		return *c, true
	}
	return CipherSuite{}, false
}

// CipherSuiteName returns the IANA name of id, or its hex code point with
// a GREASE or unknown note when the registry has no such suite.
func CipherSuiteName(id uint16) string {
	if c, ok := suitesByID[id]; ok {
		return c.Name
	}
	if IsGREASE(id) {
		return fmt.Sprintf("GREASE 0x%04X", id)
	}
	return fmt.Sprintf("unknown suite 0x%04X", id)
}
