package wire

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// The messages of a TLS 1.2 (and earlier) handshake that travel in clear
// after the ServerHello. In TLS 1.3 their counterparts are encrypted.

// Certificate is a TLS 1.2 Certificate message: the DER certificates, leaf
// first.
type Certificate struct {
	Certificates [][]byte
}

// Marshal encodes the message with its header.
func (m *Certificate) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeCertificate))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range m.Certificates {
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
			}
		})
	})
	return finish(&b, TypeCertificate)
}

// ParseCertificate decodes a TLS 1.2 Certificate message. It does not parse
// the certificates: that is crypto/x509's job.
func ParseCertificate(msg []byte) (*Certificate, error) {
	body, err := handshakeBody(msg, TypeCertificate)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	var list cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return nil, fmt.Errorf("wire: malformed Certificate message")
	}
	m := &Certificate{Certificates: [][]byte{}}
	for !list.Empty() {
		var c cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&c) || c.Empty() {
			return nil, fmt.Errorf("wire: malformed certificate %d in Certificate message", len(m.Certificates)+1)
		}
		m.Certificates = append(m.Certificates, []byte(c))
	}
	return m, nil
}

// KeyExchange says how the premaster secret of a TLS 1.2 (or earlier)
// handshake is agreed; ServerKeyExchange and ClientKeyExchange cannot be
// decoded without it, and it comes from the negotiated cipher suite.
type KeyExchange uint8

// Key exchange kinds.
const (
	KeyExchangeRSA   KeyExchange = iota + 1 // premaster encrypted to the server's RSA key
	KeyExchangeECDHE                        // ephemeral elliptic-curve Diffie-Hellman
	KeyExchangeDHE                          // ephemeral finite-field Diffie-Hellman
)

func (k KeyExchange) String() string {
	switch k {
	case KeyExchangeRSA:
		return "RSA"
	case KeyExchangeECDHE:
		return "ECDHE"
	case KeyExchangeDHE:
		return "DHE"
	}
	return fmt.Sprintf("key_exchange(%d)", uint8(k))
}

// CurveTypeNamed is ECParameters.curve_type named_curve, the only one in use.
const CurveTypeNamed uint8 = 3

// ServerKeyExchange carries the server's ephemeral Diffie-Hellman share and
// its signature over it (RFC 5246 section 7.4.3, RFC 8422 section 5.4).
type ServerKeyExchange struct {
	Kind KeyExchange // KeyExchangeECDHE or KeyExchangeDHE
	// Version is the negotiated version: from TLS 1.2 on the signature is
	// preceded by its algorithm.
	Version uint16

	// ECDHE
	Group     uint16 // named group
	PublicKey []byte // the server's EC point

	// DHE, big-endian as sent
	P, G, Ys []byte

	// SignatureAlgorithm is the signature scheme (TLS 1.2 only).
	SignatureAlgorithm uint16
	// Signature is empty for anonymous key exchange.
	Signature []byte
}

// Marshal encodes the message with its header.
func (m *ServerKeyExchange) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeServerKeyExchange))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		switch m.Kind {
		case KeyExchangeECDHE:
			b.AddUint8(CurveTypeNamed)
			b.AddUint16(m.Group)
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.PublicKey) })
		case KeyExchangeDHE:
			for _, v := range [][]byte{m.P, m.G, m.Ys} {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
			}
		default:
			b.SetError(fmt.Errorf("wire: ServerKeyExchange for %s key exchange", m.Kind))
		}
		if m.Signature == nil {
			return
		}
		if m.Version >= VersionTLS12 {
			b.AddUint16(m.SignatureAlgorithm)
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Signature) })
	})
	return finish(&b, TypeServerKeyExchange)
}

// ParseServerKeyExchange decodes a ServerKeyExchange message for the given
// key exchange (ECDHE or DHE) and negotiated version.
func ParseServerKeyExchange(msg []byte, kind KeyExchange, version uint16) (*ServerKeyExchange, error) {
	body, err := handshakeBody(msg, TypeServerKeyExchange)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &ServerKeyExchange{Kind: kind, Version: version}
	switch kind {
	case KeyExchangeECDHE:
		var ct uint8
		var pub cryptobyte.String
		if !s.ReadUint8(&ct) {
			return nil, fmt.Errorf("wire: empty ECDHE ServerKeyExchange")
		}
		if ct != CurveTypeNamed {
			return nil, fmt.Errorf("wire: ECDHE ServerKeyExchange uses curve type %d; only named curves (3) are decoded", ct)
		}
		if !s.ReadUint16(&m.Group) || !s.ReadUint8LengthPrefixed(&pub) || pub.Empty() {
			return nil, fmt.Errorf("wire: malformed ECDHE parameters in ServerKeyExchange")
		}
		m.PublicKey = []byte(pub)
	case KeyExchangeDHE:
		var p, g, ys cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&p) || !s.ReadUint16LengthPrefixed(&g) || !s.ReadUint16LengthPrefixed(&ys) || p.Empty() || g.Empty() || ys.Empty() {
			return nil, fmt.Errorf("wire: malformed DHE parameters in ServerKeyExchange")
		}
		m.P, m.G, m.Ys = []byte(p), []byte(g), []byte(ys)
	default:
		return nil, fmt.Errorf("wire: cannot decode a ServerKeyExchange for %s key exchange", kind)
	}
	if s.Empty() {
		return m, nil // anonymous
	}
	if version >= VersionTLS12 && !s.ReadUint16(&m.SignatureAlgorithm) {
		return nil, fmt.Errorf("wire: malformed signature algorithm in ServerKeyExchange")
	}
	var sig cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() {
		return nil, fmt.Errorf("wire: malformed signature in ServerKeyExchange")
	}
	m.Signature = []byte(sig)
	return m, nil
}

// DHPrimeBits is the size of the DHE prime in bits, the number that says
// whether the group is weak (under 2048 bits: Logjam territory).
func (m *ServerKeyExchange) DHPrimeBits() int { return bitLen(m.P) }

func bitLen(b []byte) int {
	for i, c := range b {
		if c != 0 {
			n := (len(b) - i - 1) * 8
			for ; c != 0; c >>= 1 {
				n++
			}
			return n
		}
	}
	return 0
}

// Client certificate types of a CertificateRequest.
const (
	CertTypeRSASign   uint8 = 1
	CertTypeDSSSign   uint8 = 2
	CertTypeECDSASign uint8 = 64
)

// CertificateRequest is a TLS 1.2 (or earlier) server's request for a client
// certificate.
type CertificateRequest struct {
	Version          uint16 // TLS 1.2 adds the signature algorithm list
	CertificateTypes []uint8
	// SignatureAlgorithms (TLS 1.2 only).
	SignatureAlgorithms []uint16
	// CertificateAuthorities are DER-encoded distinguished names the server
	// accepts issuers from.
	CertificateAuthorities [][]byte
}

// Marshal encodes the message with its header.
func (m *CertificateRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeCertificateRequest))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.CertificateTypes) })
		if m.Version >= VersionTLS12 {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, a := range m.SignatureAlgorithms {
					b.AddUint16(a)
				}
			})
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, ca := range m.CertificateAuthorities {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ca) })
			}
		})
	})
	return finish(&b, TypeCertificateRequest)
}

// ParseCertificateRequest decodes a TLS 1.2 (or earlier) CertificateRequest.
func ParseCertificateRequest(msg []byte, version uint16) (*CertificateRequest, error) {
	body, err := handshakeBody(msg, TypeCertificateRequest)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &CertificateRequest{Version: version}
	var types, cas cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&types) {
		return nil, fmt.Errorf("wire: malformed certificate types in CertificateRequest")
	}
	m.CertificateTypes = []byte(types)
	if version >= VersionTLS12 {
		var algs cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&algs) || len(algs)%2 != 0 {
			return nil, fmt.Errorf("wire: malformed signature algorithms in CertificateRequest")
		}
		m.SignatureAlgorithms = []uint16{}
		for !algs.Empty() {
			var a uint16
			algs.ReadUint16(&a)
			m.SignatureAlgorithms = append(m.SignatureAlgorithms, a)
		}
	}
	if !s.ReadUint16LengthPrefixed(&cas) || !s.Empty() {
		return nil, fmt.Errorf("wire: malformed certificate authorities in CertificateRequest")
	}
	m.CertificateAuthorities = [][]byte{}
	for !cas.Empty() {
		var dn cryptobyte.String
		if !cas.ReadUint16LengthPrefixed(&dn) || dn.Empty() {
			return nil, fmt.Errorf("wire: malformed distinguished name in CertificateRequest")
		}
		m.CertificateAuthorities = append(m.CertificateAuthorities, []byte(dn))
	}
	return m, nil
}

// MarshalServerHelloDone encodes the empty ServerHelloDone message.
func MarshalServerHelloDone() []byte { return []byte{byte(TypeServerHelloDone), 0, 0, 0} }

// ParseServerHelloDone checks a ServerHelloDone message: it has no body.
func ParseServerHelloDone(msg []byte) error {
	body, err := handshakeBody(msg, TypeServerHelloDone)
	if err != nil {
		return err
	}
	if len(body) != 0 {
		return fmt.Errorf("wire: ServerHelloDone with a %d-byte body", len(body))
	}
	return nil
}

// ClientKeyExchange carries the client's half of the key exchange: its
// Diffie-Hellman share, or with RSA key exchange the premaster secret
// encrypted to the server's certificate key, which is why that exchange has
// no forward secrecy.
type ClientKeyExchange struct {
	Kind    KeyExchange
	Version uint16 // SSL 3.0 sends the RSA ciphertext without a length
	// Data is the EC point, the DH public value Yc, or the encrypted
	// premaster secret.
	Data []byte
}

// Marshal encodes the message with its header.
func (m *ClientKeyExchange) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeClientKeyExchange))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		switch {
		case m.Kind == KeyExchangeECDHE:
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Data) })
		case m.Kind == KeyExchangeRSA && m.Version == VersionSSL30:
			b.AddBytes(m.Data)
		case m.Kind == KeyExchangeRSA || m.Kind == KeyExchangeDHE:
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Data) })
		default:
			b.SetError(fmt.Errorf("wire: ClientKeyExchange for %s key exchange", m.Kind))
		}
	})
	return finish(&b, TypeClientKeyExchange)
}

// ParseClientKeyExchange decodes a ClientKeyExchange for the given key
// exchange and negotiated version.
func ParseClientKeyExchange(msg []byte, kind KeyExchange, version uint16) (*ClientKeyExchange, error) {
	body, err := handshakeBody(msg, TypeClientKeyExchange)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &ClientKeyExchange{Kind: kind, Version: version}
	var v cryptobyte.String
	var ok bool
	switch {
	case kind == KeyExchangeECDHE:
		ok = s.ReadUint8LengthPrefixed(&v)
	case kind == KeyExchangeRSA && version == VersionSSL30:
		v, s, ok = s, nil, true
	case kind == KeyExchangeRSA || kind == KeyExchangeDHE:
		ok = s.ReadUint16LengthPrefixed(&v)
	default:
		return nil, fmt.Errorf("wire: cannot decode a ClientKeyExchange for %s key exchange", kind)
	}
	if !ok || !s.Empty() || v.Empty() {
		return nil, fmt.Errorf("wire: malformed %s ClientKeyExchange", kind)
	}
	m.Data = []byte(v)
	return m, nil
}

// Finished carries verify_data, the MAC over the whole handshake that proves
// both sides saw the same messages. After change_cipher_spec (TLS 1.2) or
// always (TLS 1.3) it is encrypted; this type is for the rare cleartext one
// and for tests.
type Finished struct {
	VerifyData []byte
}

// Marshal encodes the message with its header.
func (m *Finished) Marshal() ([]byte, error) {
	h := Handshake{Type: TypeFinished, Body: m.VerifyData}
	return h.Marshal()
}

// ParseFinished decodes a Finished message.
func ParseFinished(msg []byte) (*Finished, error) {
	body, err := handshakeBody(msg, TypeFinished)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("wire: Finished without verify_data")
	}
	return &Finished{VerifyData: append([]byte{}, body...)}, nil
}

// CertificateStatus is a TLS 1.2 server's stapled OCSP response.
type CertificateStatus struct {
	StatusType uint8  // StatusTypeOCSP
	Response   []byte // DER OCSPResponse
}

// Marshal encodes the message with its header.
func (m *CertificateStatus) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeCertificateStatus))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(m.StatusType)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Response) })
	})
	return finish(&b, TypeCertificateStatus)
}

// ParseCertificateStatus decodes a CertificateStatus message.
func ParseCertificateStatus(msg []byte) (*CertificateStatus, error) {
	body, err := handshakeBody(msg, TypeCertificateStatus)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &CertificateStatus{}
	var resp cryptobyte.String
	if !s.ReadUint8(&m.StatusType) || !s.ReadUint24LengthPrefixed(&resp) || !s.Empty() || resp.Empty() {
		return nil, fmt.Errorf("wire: malformed CertificateStatus")
	}
	m.Response = []byte(resp)
	return m, nil
}

// NewSessionTicket is a TLS 1.2 server's session ticket (RFC 5077).
type NewSessionTicket struct {
	LifetimeHint uint32 // seconds
	Ticket       []byte
}

// Marshal encodes the message with its header.
func (m *NewSessionTicket) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeNewSessionTicket))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint32(m.LifetimeHint)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.Ticket) })
	})
	return finish(&b, TypeNewSessionTicket)
}

// ParseNewSessionTicket decodes a TLS 1.2 NewSessionTicket.
func ParseNewSessionTicket(msg []byte) (*NewSessionTicket, error) {
	body, err := handshakeBody(msg, TypeNewSessionTicket)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &NewSessionTicket{}
	var t cryptobyte.String
	if !s.ReadUint32(&m.LifetimeHint) || !s.ReadUint16LengthPrefixed(&t) || !s.Empty() {
		return nil, fmt.Errorf("wire: malformed NewSessionTicket")
	}
	m.Ticket = []byte(t)
	return m, nil
}

func finish(b *cryptobyte.Builder, t HandshakeType) ([]byte, error) {
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("wire: cannot encode %s: %w", t, err)
	}
	return out, nil
}
