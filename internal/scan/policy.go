package scan

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// What a scan offers and how it names what it finds comes from tlspolicy,
// the one table of suites, groups and signature schemes.

// candidateSuites are the code points a scan offers for a version: every
// suite of the registry that the version may negotiate, signalling values
// excluded.
func candidateSuites(v uint16) []uint16 {
	var ids []uint16
	for _, c := range tlspolicy.CipherSuites() {
		if c.SCSV || c.ID == 0x0000 {
			continue
		}
		if v == VersionTLS13 && c.IsTLS13() || v != VersionTLS13 && !c.IsTLS13() {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// describeSuite fills in what is known about a suite.
func describeSuite(id uint16) Suite {
	c, ok := tlspolicy.CipherSuiteByID(id)
	if !ok {
		return Suite{ID: id, Name: tlspolicy.CipherSuiteName(id)}
	}
	s := Suite{
		ID: id, Name: c.Name, KeyExchange: string(c.KeyExchange), Cipher: string(c.Cipher),
		Bits: c.StrengthBits(), KeyBits: c.KeyBits,
		AEAD: c.IsAEAD(), CBC: c.Mode == tlspolicy.ModeCBC, FS: c.ForwardSecrecy,
		Export: c.Export, Anonymous: c.Auth == tlspolicy.AuthAnon || c.Auth == tlspolicy.AuthNULL,
		RC4: c.Cipher == tlspolicy.CipherRC4, Null: c.Cipher == tlspolicy.CipherNULL,
	}
	if c.IsTLS13() {
		s.KeyExchange = "TLS13"
	}
	if c.BlockBits() == 64 {
		s.BlockBits = 64
	}
	return s
}

// sslv2Suite describes an SSL 2.0 cipher kind.
func sslv2Suite(spec uint32) Suite {
	k, ok := tlspolicy.SSLv2CipherKindByID(spec)
	if !ok {
		return Suite{Name: fmt.Sprintf("SSL_CK_0x%06X", spec), KeyExchange: "RSA"}
	}
	s := Suite{Name: k.Name, KeyExchange: "RSA", Bits: k.KeyBits, KeyBits: k.KeyBits, Export: k.Export}
	switch {
	case strings.Contains(k.Name, "RC4"):
		s.Cipher, s.RC4 = "RC4", true
	case strings.Contains(k.Name, "EDE3"):
		s.Cipher, s.Bits, s.BlockBits, s.CBC = "3DES", 112, 64, true
	default:
		s.Cipher, s.BlockBits, s.CBC = strings.SplitN(strings.TrimPrefix(k.Name, "SSL_CK_"), "_", 2)[0], 64, true
	}
	return s
}

// defaultGroups lists every group of the registry, post-quantum hybrids,
// then X25519, then the other recommended groups first, the way a modern
// client orders them (so the key share raw TLS 1.3 probes send is X25519).
func defaultGroups() []uint16 {
	gs := tlspolicy.Groups()
	rank := func(g tlspolicy.Group) int {
		switch {
		case g.Kind == tlspolicy.GroupHybrid && !g.Obsolete:
			return 0
		case g.ID == tls.X25519:
			return 1
		case g.Recommended:
			return 2
		case !g.Obsolete:
			return 3
		}
		return 4
	}
	slices.SortStableFunc(gs, func(a, b tlspolicy.Group) int { return rank(a) - rank(b) })
	var ids []uint16
	for _, g := range gs {
		ids = append(ids, uint16(g.ID))
	}
	return ids
}

// isECGroup reports whether a group can serve an ECDHE suite in TLS 1.2.
func isECGroup(id uint16) bool {
	g, ok := tlspolicy.GroupByID(tls.CurveID(id))
	return ok && g.Kind == tlspolicy.GroupEC
}

// groupInfo names a group and gives the size of its key as people quote it:
// the prime of a finite-field group, the curve of an elliptic one (for a
// hybrid, its classical half).
func groupInfo(id uint16) (string, int) {
	g, ok := tlspolicy.GroupByID(tls.CurveID(id))
	if !ok {
		return tlspolicy.GroupName(tls.CurveID(id)), 0
	}
	if g.Kind == tlspolicy.GroupFFDH {
		if n, err := strconv.Atoi(strings.TrimPrefix(g.Name, "ffdhe")); err == nil {
			return g.Name, n
		}
	}
	return g.Name, 2 * g.Bits
}

// defaultSignatureSchemes lists every signature scheme of the registry.
func defaultSignatureSchemes() []uint16 {
	var ids []uint16
	for _, s := range tlspolicy.SignatureSchemes() {
		ids = append(ids, uint16(s.ID))
	}
	return ids
}

func schemeName(id uint16) string { return tlspolicy.SignatureSchemeName(tls.SignatureScheme(id)) }
