package tlspolicy

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// GroupKind says what mathematics a named group uses.
type GroupKind string

// Group kinds.
const (
	GroupEC     GroupKind = "EC"     // elliptic curve (including X25519/X448)
	GroupFFDH   GroupKind = "FFDH"   // finite-field Diffie-Hellman (RFC 7919)
	GroupHybrid GroupKind = "hybrid" // classical ECDH combined with a post-quantum KEM
	GroupKEM    GroupKind = "KEM"    // post-quantum KEM alone
)

// Group describes one entry of the IANA "TLS Supported Groups" registry.
type Group struct {
	ID          tls.CurveID
	Name        string   // IANA name
	Aliases     []string // other common names (OpenSSL, NIST)
	Kind        GroupKind
	Bits        int  // security level in bits (classical, or NIST category for KEMs)
	PostQuantum bool // resists a quantum adversary (ML-KEM and hybrids)
	Obsolete    bool // deprecated or a superseded draft code point
	Recommended bool // IANA "Recommended: Y"
}

// Groups from the IANA "TLS Supported Groups" registry (tls-parameters-8),
// snapshot including the ML-KEM code points (0x0200-0x0202, 0x11EB-0x11ED).
var groups = []Group{
	{ID: 1, Name: "sect163k1", Aliases: []string{"K-163"}, Kind: GroupEC, Bits: 80, Obsolete: true},
	{ID: 2, Name: "sect163r1", Kind: GroupEC, Bits: 80, Obsolete: true},
	{ID: 3, Name: "sect163r2", Aliases: []string{"B-163"}, Kind: GroupEC, Bits: 80, Obsolete: true},
	{ID: 4, Name: "sect193r1", Kind: GroupEC, Bits: 96, Obsolete: true},
	{ID: 5, Name: "sect193r2", Kind: GroupEC, Bits: 96, Obsolete: true},
	{ID: 6, Name: "sect233k1", Aliases: []string{"K-233"}, Kind: GroupEC, Bits: 112, Obsolete: true},
	{ID: 7, Name: "sect233r1", Aliases: []string{"B-233"}, Kind: GroupEC, Bits: 112, Obsolete: true},
	{ID: 8, Name: "sect239k1", Kind: GroupEC, Bits: 112, Obsolete: true},
	{ID: 9, Name: "sect283k1", Aliases: []string{"K-283"}, Kind: GroupEC, Bits: 128, Obsolete: true},
	{ID: 10, Name: "sect283r1", Aliases: []string{"B-283"}, Kind: GroupEC, Bits: 128, Obsolete: true},
	{ID: 11, Name: "sect409k1", Aliases: []string{"K-409"}, Kind: GroupEC, Bits: 192, Obsolete: true},
	{ID: 12, Name: "sect409r1", Aliases: []string{"B-409"}, Kind: GroupEC, Bits: 192, Obsolete: true},
	{ID: 13, Name: "sect571k1", Aliases: []string{"K-571"}, Kind: GroupEC, Bits: 256, Obsolete: true},
	{ID: 14, Name: "sect571r1", Aliases: []string{"B-571"}, Kind: GroupEC, Bits: 256, Obsolete: true},
	{ID: 15, Name: "secp160k1", Kind: GroupEC, Bits: 80, Obsolete: true},
	{ID: 16, Name: "secp160r1", Kind: GroupEC, Bits: 80, Obsolete: true},
	{ID: 17, Name: "secp160r2", Kind: GroupEC, Bits: 80, Obsolete: true},
	{ID: 18, Name: "secp192k1", Kind: GroupEC, Bits: 96, Obsolete: true},
	{ID: 19, Name: "secp192r1", Aliases: []string{"P-192", "prime192v1"}, Kind: GroupEC, Bits: 96, Obsolete: true},
	{ID: 20, Name: "secp224k1", Kind: GroupEC, Bits: 112, Obsolete: true},
	{ID: 21, Name: "secp224r1", Aliases: []string{"P-224"}, Kind: GroupEC, Bits: 112, Obsolete: true},
	{ID: 22, Name: "secp256k1", Kind: GroupEC, Bits: 128, Obsolete: true},
	{ID: 23, Name: "secp256r1", Aliases: []string{"P-256", "prime256v1", "CurveP256"}, Kind: GroupEC, Bits: 128, Recommended: true},
	{ID: 24, Name: "secp384r1", Aliases: []string{"P-384", "CurveP384"}, Kind: GroupEC, Bits: 192, Recommended: true},
	{ID: 25, Name: "secp521r1", Aliases: []string{"P-521", "CurveP521"}, Kind: GroupEC, Bits: 256},
	{ID: 26, Name: "brainpoolP256r1", Kind: GroupEC, Bits: 128},
	{ID: 27, Name: "brainpoolP384r1", Kind: GroupEC, Bits: 192},
	{ID: 28, Name: "brainpoolP512r1", Kind: GroupEC, Bits: 256},
	{ID: 29, Name: "x25519", Aliases: []string{"X25519"}, Kind: GroupEC, Bits: 128, Recommended: true},
	{ID: 30, Name: "x448", Aliases: []string{"X448"}, Kind: GroupEC, Bits: 224, Recommended: true},
	{ID: 31, Name: "brainpoolP256r1tls13", Kind: GroupEC, Bits: 128},
	{ID: 32, Name: "brainpoolP384r1tls13", Kind: GroupEC, Bits: 192},
	{ID: 33, Name: "brainpoolP512r1tls13", Kind: GroupEC, Bits: 256},
	{ID: 34, Name: "GC256A", Kind: GroupEC, Bits: 128},
	{ID: 35, Name: "GC256B", Kind: GroupEC, Bits: 128},
	{ID: 36, Name: "GC256C", Kind: GroupEC, Bits: 128},
	{ID: 37, Name: "GC256D", Kind: GroupEC, Bits: 128},
	{ID: 38, Name: "GC512A", Kind: GroupEC, Bits: 256},
	{ID: 39, Name: "GC512B", Kind: GroupEC, Bits: 256},
	{ID: 40, Name: "GC512C", Kind: GroupEC, Bits: 256},
	{ID: 41, Name: "curveSM2", Aliases: []string{"SM2"}, Kind: GroupEC, Bits: 128},
	{ID: 256, Name: "ffdhe2048", Kind: GroupFFDH, Bits: 112},
	{ID: 257, Name: "ffdhe3072", Kind: GroupFFDH, Bits: 128},
	{ID: 258, Name: "ffdhe4096", Kind: GroupFFDH, Bits: 152},
	{ID: 259, Name: "ffdhe6144", Kind: GroupFFDH, Bits: 176},
	{ID: 260, Name: "ffdhe8192", Kind: GroupFFDH, Bits: 192},
	{ID: 0x0200, Name: "MLKEM512", Kind: GroupKEM, Bits: 128, PostQuantum: true},
	{ID: 0x0201, Name: "MLKEM768", Kind: GroupKEM, Bits: 192, PostQuantum: true},
	{ID: 0x0202, Name: "MLKEM1024", Kind: GroupKEM, Bits: 256, PostQuantum: true},
	{ID: 0x11EB, Name: "SecP256r1MLKEM768", Kind: GroupHybrid, Bits: 128, PostQuantum: true},
	{ID: 0x11EC, Name: "X25519MLKEM768", Kind: GroupHybrid, Bits: 128, PostQuantum: true, Recommended: true},
	{ID: 0x11ED, Name: "SecP384r1MLKEM1024", Kind: GroupHybrid, Bits: 192, PostQuantum: true},
	{ID: 0x6399, Name: "X25519Kyber768Draft00", Kind: GroupHybrid, Bits: 128, PostQuantum: true, Obsolete: true},
	{ID: 0x639A, Name: "SecP256r1Kyber768Draft00", Kind: GroupHybrid, Bits: 128, PostQuantum: true, Obsolete: true},
	{ID: 0xFF01, Name: "arbitrary_explicit_prime_curves", Kind: GroupEC, Obsolete: true},
	{ID: 0xFF02, Name: "arbitrary_explicit_char2_curves", Kind: GroupEC, Obsolete: true},
}

// Strength classifies the group: post-quantum hybrids are Strong; classical
// groups by security level; explicit-curve placeholders are Insecure.
func (g Group) Strength() Strength {
	switch {
	case g.Bits == 0:
		return Insecure // explicit curves: the peer picks the parameters
	case g.Bits < 100:
		return Insecure
	case g.Bits < 112:
		return Weak
	case g.Bits < 128:
		return Acceptable
	case g.Obsolete:
		return Acceptable // sound but deprecated: binary curves, secp256k1, Kyber drafts
	}
	return Strong
}

func (g Group) String() string { return g.Name }

// Groups returns every known group, sorted by code point.
func Groups() []Group { return append([]Group(nil), groups...) }

// GroupByID looks up a group by code point.
func GroupByID(id tls.CurveID) (Group, bool) {
	for _, g := range groups {
		if g.ID == id {
			return g, true
		}
	}
	return Group{}, false
}

// GroupByName looks up a group by IANA name or alias, ignoring case.
func GroupByName(name string) (Group, bool) {
	name = strings.TrimSpace(name)
	for _, g := range groups {
		if strings.EqualFold(g.Name, name) {
			return g, true
		}
		for _, a := range g.Aliases {
			if strings.EqualFold(a, name) {
				return g, true
			}
		}
	}
	return Group{}, false
}

// GroupName names a group code point, or gives its hex value when unknown.
func GroupName(id tls.CurveID) string {
	if g, ok := GroupByID(id); ok {
		return g.Name
	}
	if IsGREASE(uint16(id)) {
		return fmt.Sprintf("GREASE 0x%04X", uint16(id))
	}
	return fmt.Sprintf("unknown group 0x%04X", uint16(id))
}
