package inspect

import (
	"crypto/tls"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
	"github.com/tlsgate/tlsgate/internal/wire"
)

// Names, kinds and strengths of suites, groups and signature schemes are
// tlspolicy's; inspect only shows them.

func suiteCode(id uint16) Code { return Code{id, tlspolicy.CipherSuiteName(id)} }

func groupOf(id uint16) Group {
	g := Group{ID: id, Name: tlspolicy.GroupName(tls.CurveID(id))}
	if pg, ok := tlspolicy.GroupByID(tls.CurveID(id)); ok {
		g.PostQuantumHybrid = pg.Kind == tlspolicy.GroupHybrid
	}
	return g
}

func schemeCode(id uint16) Code {
	return Code{id, tlspolicy.SignatureSchemeName(tls.SignatureScheme(id))}
}

// keyExchangeOf says how a TLS 1.2 (or earlier) suite agrees on keys, in
// the terms wire needs to decode the key exchange messages.
func keyExchangeOf(suite uint16) wire.KeyExchange {
	cs, _ := tlspolicy.CipherSuiteByID(suite)
	switch cs.KeyExchange {
	case tlspolicy.KxECDHE:
		return wire.KeyExchangeECDHE
	case tlspolicy.KxDHE:
		return wire.KeyExchangeDHE
	case tlspolicy.KxRSA:
		return wire.KeyExchangeRSA
	}
	return 0
}

// forwardSecret reports whether tlspolicy counts the suite's key exchange
// as forward secret.
func forwardSecret(suite uint16) bool {
	cs, _ := tlspolicy.CipherSuiteByID(suite)
	return cs.ForwardSecrecy
}

// versionName names a protocol version.
func versionName(v uint16) string { return tlspolicy.VersionName(v) }
