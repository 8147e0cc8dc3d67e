package inspect

import (
	"crypto/tls"
	"fmt"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// keyExchangeInfo explains how the two sides agreed on keys, and whether
// recorded traffic stays secret if the server's key leaks later.
func keyExchangeInfo(st tls.ConnectionState, d *decoded) *KeyExchangeInfo {
	k := &KeyExchangeInfo{}
	if st.Version == tls.VersionTLS13 {
		g := groupOf(uint16(st.CurveID))
		k.Method, k.Group, k.ForwardSecrecy = "ECDHE", &g, true
		if g.ID == 0 {
			// Resumption with psk_ke only: no fresh Diffie-Hellman.
			k.Method, k.Group, k.ForwardSecrecy = "PSK", nil, false
			k.Explanation = "resumed from a pre-shared key without a new key exchange: traffic depends on the session ticket's secret"
			return k
		}
		k.Explanation = fmt.Sprintf("client and server each made a fresh %s key share for this connection only; the server's certificate key only signs the handshake. Recorded traffic stays secret even if that key leaks later (forward secrecy).", g.Name)
		if g.PostQuantumHybrid {
			k.Method = "ECDHE+ML-KEM"
			k.Explanation += " " + g.Name + " is a post-quantum hybrid: it also resists decryption by a future quantum computer."
		}
		k.fillShares(d)
		return k
	}
	kind := keyExchangeOf(st.CipherSuite)
	k.Method = kind.String()
	k.ForwardSecrecy = forwardSecret(st.CipherSuite)
	switch kind {
	case wire.KeyExchangeRSA:
		k.Explanation = "static RSA key exchange: the client encrypted the premaster secret to the server's certificate key. Anyone who records this traffic and later obtains that key can decrypt all of it: no forward secrecy. Prefer ECDHE suites."
	case wire.KeyExchangeECDHE, wire.KeyExchangeDHE:
		if st.CurveID != 0 {
			g := groupOf(uint16(st.CurveID))
			k.Group = &g
		}
		k.Explanation = "ephemeral Diffie-Hellman: fresh key shares for this connection only, signed by the server's certificate key. Recorded traffic stays secret even if that key leaks later (forward secrecy)."
	default:
		k.Method = "other"
		k.Explanation = "key exchange of suite " + suiteCode(st.CipherSuite).Name
	}
	if d != nil && d.skeRaw != nil && kind != wire.KeyExchangeRSA {
		if ske, err := wire.ParseServerKeyExchange(d.skeRaw, kind, st.Version); err == nil {
			if kind == wire.KeyExchangeECDHE {
				g := groupOf(ske.Group)
				k.Group = &g
				k.ServerShareLen = len(ske.PublicKey)
			} else {
				k.DHPrimeBits = ske.DHPrimeBits()
				k.ServerShareLen = len(ske.Ys)
			}
			if ske.Version >= wire.VersionTLS12 && ske.Signature != nil {
				c := schemeCode(ske.SignatureAlgorithm)
				k.ServerSignature = &c
			}
		}
	}
	if d != nil && d.ckeRaw != nil {
		if cke, err := wire.ParseClientKeyExchange(d.ckeRaw, kind, st.Version); err == nil {
			k.ClientShareLen = len(cke.Data)
		}
	}
	return k
}

// fillShares reads the TLS 1.3 key share sizes from the hellos.
func (k *KeyExchangeInfo) fillShares(d *decoded) {
	if d == nil || len(d.serverHellos) == 0 || len(d.clientHellos) == 0 {
		return
	}
	sh := d.serverHellos[len(d.serverHellos)-1]
	e, ok := sh.Extension(wire.ExtKeyShare)
	if !ok {
		return
	}
	ks, err := wire.ParseServerKeyShare(e.Data)
	if err != nil {
		return
	}
	k.ServerShareLen = len(ks.Data)
	ch := d.clientHellos[len(d.clientHellos)-1]
	if e, ok := ch.Extension(wire.ExtKeyShare); ok {
		if shares, err := wire.ParseKeyShares(e.Data); err == nil {
			for _, s := range shares {
				if s.Group == ks.Group {
					k.ClientShareLen = len(s.Data)
				}
			}
		}
	}
}
