package tlspolicy

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Protocol version code points. crypto/tls speaks TLS 1.0 to 1.3 only; the
// SSL values exist so that scans and traces can name what a peer offers.
const (
	VersionSSL20 uint16 = 0x0002
	VersionSSL30 uint16 = 0x0300
	VersionTLS10 uint16 = tls.VersionTLS10
	VersionTLS11 uint16 = tls.VersionTLS11
	VersionTLS12 uint16 = tls.VersionTLS12
	VersionTLS13 uint16 = tls.VersionTLS13
)

// Version describes a protocol version.
type Version struct {
	ID       uint16
	Name     string // "TLS 1.3"
	Strength Strength
	Note     string // why it has that strength
}

var versions = []Version{
	{VersionSSL20, "SSL 2.0", Insecure, "broken by design (RFC 6176): no handshake integrity, weak MAC"},
	{VersionSSL30, "SSL 3.0", Insecure, "broken (POODLE, RFC 7568)"},
	{VersionTLS10, "TLS 1.0", Weak, "deprecated by RFC 8996: SHA-1/MD5 handshake, CBC IV predictability (BEAST)"},
	{VersionTLS11, "TLS 1.1", Weak, "deprecated by RFC 8996: SHA-1/MD5 handshake"},
	{VersionTLS12, "TLS 1.2", Strong, "current; safe with ECDHE and AEAD suites"},
	{VersionTLS13, "TLS 1.3", Strong, "current; forward secrecy and AEAD only"},
}

// Versions returns every known protocol version, oldest first.
func Versions() []Version { return append([]Version(nil), versions...) }

// VersionByID looks up a version by its wire value.
func VersionByID(id uint16) (Version, bool) {
	for _, v := range versions {
		if v.ID == id {
			return v, true
		}
	}
	return Version{}, false
}

// VersionName names a wire version value, "TLS 1.2", or "0x7F1C" when unknown.
func VersionName(id uint16) string {
	if v, ok := VersionByID(id); ok {
		return v.Name
	}
	if IsGREASE(id) {
		return fmt.Sprintf("GREASE 0x%04X", id)
	}
	return fmt.Sprintf("0x%04X", id)
}

// ParseVersion reads a version as people write it: "1.2", "TLS1.2",
// "tls12", "TLSv1.2", "TLS 1.2", "SSLv3".
func ParseVersion(s string) (uint16, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.NewReplacer(" ", "", "_", "", "v", "", ".", "").Replace(n)
	switch strings.TrimPrefix(strings.TrimPrefix(n, "tls"), "ssl") {
	case "10":
		if strings.HasPrefix(n, "ssl") {
			break
		}
		return VersionTLS10, nil
	case "11":
		return VersionTLS11, nil
	case "12":
		return VersionTLS12, nil
	case "13":
		return VersionTLS13, nil
	}
	switch n {
	case "ssl3", "ssl30":
		return VersionSSL30, nil
	case "ssl2", "ssl20":
		return VersionSSL20, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q: use 1.0, 1.1, 1.2 or 1.3", s)
}

// SSLv2CipherKind is a three-byte SSL 2.0 cipher spec, as an SSL 2.0
// ClientHello or ServerHello lists them. All are insecure with the protocol.
type SSLv2CipherKind struct {
	ID          uint32
	Name        string
	OpenSSLName string
	KeyBits     int
	Export      bool
}

var sslv2CipherKinds = []SSLv2CipherKind{
	{0x010080, "SSL_CK_RC4_128_WITH_MD5", "RC4-MD5", 128, false},
	{0x020080, "SSL_CK_RC4_128_EXPORT40_WITH_MD5", "EXP-RC4-MD5", 40, true},
	{0x030080, "SSL_CK_RC2_128_CBC_WITH_MD5", "RC2-CBC-MD5", 128, false},
	{0x040080, "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5", "EXP-RC2-CBC-MD5", 40, true},
	{0x050080, "SSL_CK_IDEA_128_CBC_WITH_MD5", "IDEA-CBC-MD5", 128, false},
	{0x060040, "SSL_CK_DES_64_CBC_WITH_MD5", "DES-CBC-MD5", 56, false},
	{0x0700C0, "SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "DES-CBC3-MD5", 168, false},
}

// SSLv2CipherKinds returns the SSL 2.0 cipher specs.
func SSLv2CipherKinds() []SSLv2CipherKind {
	return append([]SSLv2CipherKind(nil), sslv2CipherKinds...)
}

// SSLv2CipherKindByID looks up an SSL 2.0 cipher spec by its 24-bit value.
func SSLv2CipherKindByID(id uint32) (SSLv2CipherKind, bool) {
	for _, k := range sslv2CipherKinds {
		if k.ID == id {
			return k, true
		}
	}
	return SSLv2CipherKind{}, false
}
