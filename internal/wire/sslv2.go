package wire

import (
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
)

// SSL 2.0 framing, still met in two places: clients that send an
// SSLv2-compatible ClientHello to open a TLS handshake (RFC 5246 appendix
// E.2), and servers that still answer SSL 2.0 (DROWN). Its record header is
// 2 bytes with the high bit set, or 3 bytes with padding.

// SSL 2.0 message types.
const (
	SSLv2MsgError       uint8 = 0
	SSLv2MsgClientHello uint8 = 1
	SSLv2MsgServerHello uint8 = 4
)

// parseSSLv2Header returns the header length, body length and padding of
// the SSL 2.0 record at the start of b.
func parseSSLv2Header(b []byte) (hdr, n, pad int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, fmt.Errorf("SSLv2 record header needs 2 bytes, have %d: %w", len(b), ErrTruncated)
	}
	if b[0]&0x80 != 0 {
		return 2, int(b[0]&0x7f)<<8 | int(b[1]), 0, nil
	}
	if len(b) < 3 {
		return 0, 0, 0, fmt.Errorf("SSLv2 3-byte record header, have %d: %w", len(b), ErrTruncated)
	}
	return 3, int(b[0]&0x3f)<<8 | int(b[1]), int(b[2]), nil
}

// SSLv2Record returns the message of the SSL 2.0 record at the start of b
// (without header and padding) and the number of bytes the record used.
func SSLv2Record(b []byte) (msg []byte, used int, err error) {
	hdr, n, pad, err := parseSSLv2Header(b)
	if err != nil {
		return nil, 0, err
	}
	if pad > n {
		return nil, 0, fmt.Errorf("wire: SSLv2 record with %d bytes of padding in %d", pad, n)
	}
	if len(b) < hdr+n {
		return nil, 0, fmt.Errorf("SSLv2 record needs %d bytes, have %d: %w", n, len(b)-hdr, ErrTruncated)
	}
	return b[hdr : hdr+n-pad], hdr + n, nil
}

// ReadSSLv2Record reads one SSL 2.0 record from r and returns its message.
func ReadSSLv2Record(r io.Reader) ([]byte, error) {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("stream ended in an SSLv2 record header: %w", ErrTruncated)
		}
		return nil, err
	}
	hdr := 2
	if h[0]&0x80 == 0 {
		if _, err := io.ReadFull(r, h[2:]); err != nil {
			return nil, fmt.Errorf("stream ended in an SSLv2 record header: %w", ErrTruncated)
		}
		hdr = 3
	}
	_, n, _, _ := parseSSLv2Header(h[:hdr])
	rec := make([]byte, hdr+n)
	copy(rec, h[:hdr])
	if _, err := io.ReadFull(r, rec[hdr:]); err != nil {
		return nil, fmt.Errorf("stream ended inside an SSLv2 record of %d bytes: %w", n, ErrTruncated)
	}
	msg, _, err := SSLv2Record(rec)
	return msg, err
}

// IsSSLv2ClientHello reports whether b starts with an SSL 2.0 record holding
// a CLIENT-HELLO, either a real SSL 2.0 one or the SSLv2-compatible hello of
// an old TLS client (version 3.x), rather than a TLS record.
func IsSSLv2ClientHello(b []byte) bool {
	return len(b) >= 5 && b[0]&0x80 != 0 && b[2] == SSLv2MsgClientHello && (b[3] == 0 && b[4] == 2 || b[3] == 3)
}

// SSLv2ClientHello is an SSL 2.0 CLIENT-HELLO. Cipher specs are 24-bit codes;
// in an SSLv2-compatible hello a TLS cipher suite 0xXXYY is 0x00XXYY.
type SSLv2ClientHello struct {
	Version     uint16
	CipherSpecs []uint32
	SessionID   []byte
	Challenge   []byte
}

// Marshal encodes the hello with a 2-byte record header.
func (m *SSLv2ClientHello) Marshal() ([]byte, error) {
	if 3*len(m.CipherSpecs) > 0xffff || len(m.SessionID) > 0xffff || len(m.Challenge) > 0xffff {
		return nil, fmt.Errorf("wire: SSLv2 CLIENT-HELLO field too long")
	}
	var b cryptobyte.Builder
	b.AddUint8(SSLv2MsgClientHello)
	b.AddUint16(m.Version)
	b.AddUint16(uint16(3 * len(m.CipherSpecs)))
	b.AddUint16(uint16(len(m.SessionID)))
	b.AddUint16(uint16(len(m.Challenge)))
	for _, c := range m.CipherSpecs {
		b.AddUint24(c)
	}
	b.AddBytes(m.SessionID)
	b.AddBytes(m.Challenge)
	body, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return sslv2Frame(body, "CLIENT-HELLO")
}

func sslv2Frame(body []byte, what string) ([]byte, error) {
	if len(body) > 0x7fff {
		return nil, fmt.Errorf("wire: SSLv2 %s of %d bytes does not fit a record (max 32767)", what, len(body))
	}
	return append([]byte{0x80 | byte(len(body)>>8), byte(len(body))}, body...), nil
}

// ParseSSLv2ClientHello decodes an SSL 2.0 record holding a CLIENT-HELLO.
func ParseSSLv2ClientHello(record []byte) (*SSLv2ClientHello, error) {
	msg, used, err := SSLv2Record(record)
	if err != nil {
		return nil, err
	}
	if used != len(record) {
		return nil, fmt.Errorf("wire: %d bytes after the SSLv2 CLIENT-HELLO", len(record)-used)
	}
	s := cryptobyte.String(msg)
	var typ uint8
	var specLen, sidLen, chLen uint16
	m := &SSLv2ClientHello{}
	if !s.ReadUint8(&typ) || typ != SSLv2MsgClientHello {
		return nil, fmt.Errorf("wire: SSLv2 message type %d is not CLIENT-HELLO", typ)
	}
	if !s.ReadUint16(&m.Version) || !s.ReadUint16(&specLen) || !s.ReadUint16(&sidLen) || !s.ReadUint16(&chLen) || specLen%3 != 0 {
		return nil, fmt.Errorf("wire: malformed SSLv2 CLIENT-HELLO header")
	}
	var specs, sid, ch []byte
	if !s.ReadBytes(&specs, int(specLen)) || !s.ReadBytes(&sid, int(sidLen)) || !s.ReadBytes(&ch, int(chLen)) || !s.Empty() {
		return nil, fmt.Errorf("wire: SSLv2 CLIENT-HELLO lengths do not match its %d bytes", len(msg))
	}
	for i := 0; i < len(specs); i += 3 {
		m.CipherSpecs = append(m.CipherSpecs, uint32(specs[i])<<16|uint32(specs[i+1])<<8|uint32(specs[i+2]))
	}
	m.SessionID, m.Challenge = append([]byte{}, sid...), append([]byte{}, ch...)
	return m, nil
}

// SSLv2ServerHello is an SSL 2.0 SERVER-HELLO: an answer to it means the
// server speaks SSL 2.0; CipherSpecs lists the ciphers it would use.
type SSLv2ServerHello struct {
	SessionIDHit    uint8
	CertificateType uint8 // 1: X.509
	Version         uint16
	Certificate     []byte // DER
	CipherSpecs     []uint32
	ConnectionID    []byte
}

// Marshal encodes the hello with a 2-byte record header.
func (m *SSLv2ServerHello) Marshal() ([]byte, error) {
	if 3*len(m.CipherSpecs) > 0xffff || len(m.Certificate) > 0xffff || len(m.ConnectionID) > 0xffff {
		return nil, fmt.Errorf("wire: SSLv2 SERVER-HELLO field too long")
	}
	var b cryptobyte.Builder
	b.AddUint8(SSLv2MsgServerHello)
	b.AddUint8(m.SessionIDHit)
	b.AddUint8(m.CertificateType)
	b.AddUint16(m.Version)
	b.AddUint16(uint16(len(m.Certificate)))
	b.AddUint16(uint16(3 * len(m.CipherSpecs)))
	b.AddUint16(uint16(len(m.ConnectionID)))
	b.AddBytes(m.Certificate)
	for _, c := range m.CipherSpecs {
		b.AddUint24(c)
	}
	b.AddBytes(m.ConnectionID)
	body, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	return sslv2Frame(body, "SERVER-HELLO")
}

// ParseSSLv2ServerHello decodes an SSL 2.0 SERVER-HELLO from the record at
// the start of b (bytes after it are ignored: a server may send more).
func ParseSSLv2ServerHello(b []byte) (*SSLv2ServerHello, error) {
	msg, _, err := SSLv2Record(b)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(msg)
	var typ uint8
	var certLen, specLen, idLen uint16
	m := &SSLv2ServerHello{}
	if !s.ReadUint8(&typ) {
		return nil, fmt.Errorf("wire: empty SSLv2 record")
	}
	if typ == SSLv2MsgError {
		var code uint16
		s.ReadUint16(&code)
		return nil, fmt.Errorf("wire: server sent SSLv2 ERROR 0x%04x", code)
	}
	if typ != SSLv2MsgServerHello {
		return nil, fmt.Errorf("wire: SSLv2 message type %d is not SERVER-HELLO", typ)
	}
	if !s.ReadUint8(&m.SessionIDHit) || !s.ReadUint8(&m.CertificateType) || !s.ReadUint16(&m.Version) ||
		!s.ReadUint16(&certLen) || !s.ReadUint16(&specLen) || !s.ReadUint16(&idLen) || specLen%3 != 0 {
		return nil, fmt.Errorf("wire: malformed SSLv2 SERVER-HELLO header")
	}
	var cert, specs, id []byte
	if !s.ReadBytes(&cert, int(certLen)) || !s.ReadBytes(&specs, int(specLen)) || !s.ReadBytes(&id, int(idLen)) || !s.Empty() {
		return nil, fmt.Errorf("wire: SSLv2 SERVER-HELLO lengths do not match its %d bytes", len(msg))
	}
	for i := 0; i < len(specs); i += 3 {
		m.CipherSpecs = append(m.CipherSpecs, uint32(specs[i])<<16|uint32(specs[i+1])<<8|uint32(specs[i+2]))
	}
	m.Certificate, m.ConnectionID = append([]byte{}, cert...), append([]byte{}, id...)
	return m, nil
}
