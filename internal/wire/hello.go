package wire

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// ClientHello is the first message a client sends (RFC 8446 section 4.1.2,
// RFC 5246 section 7.4.1.2). It can describe any hello from SSL 3.0 to TLS
// 1.3, including ones no well-behaved client would send, because the
// scanner builds those on purpose.
type ClientHello struct {
	// Version is legacy_version: the highest version for TLS 1.2 and
	// earlier, 0x0303 when supported_versions carries the real list.
	Version            uint16
	Random             [32]byte
	SessionID          []byte
	CipherSuites       []uint16
	CompressionMethods []uint8
	// Extensions in wire order. nil means the hello has no extensions block
	// at all (as SSL 3.0 clients send); an empty non-nil slice means an
	// empty block.
	Extensions []Extension
}

// Marshal encodes the hello as a complete handshake message.
func (m *ClientHello) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeClientHello))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(m.Random[:])
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.SessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range m.CipherSuites {
				b.AddUint16(s)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.CompressionMethods) })
		if m.Extensions != nil {
			marshalExtensions(b, m.Extensions)
		}
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("wire: ClientHello does not fit its length fields: %w", err)
	}
	return out, nil
}

// Records encodes the hello in handshake records of the given record
// version (TLS stacks send 0x0301 for compatibility), cut at maxFragment
// bytes (0: MaxPlaintext).
func (m *ClientHello) Records(recordVersion uint16, maxFragment int) ([]byte, error) {
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	return FragmentRecords(TypeHandshake, recordVersion, b, maxFragment), nil
}

// ParseClientHello decodes a complete ClientHello handshake message.
func ParseClientHello(msg []byte) (*ClientHello, error) {
	body, err := handshakeBody(msg, TypeClientHello)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &ClientHello{}
	var random, sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&m.Version) || !s.ReadBytes((*[]byte)(&random), 32) {
		return nil, fmt.Errorf("wire: ClientHello too short for version and random")
	}
	copy(m.Random[:], random)
	if !s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 {
		return nil, fmt.Errorf("wire: ClientHello has a malformed session id")
	}
	m.SessionID = []byte(sid)
	if !s.ReadUint16LengthPrefixed(&suites) || len(suites)%2 != 0 {
		return nil, fmt.Errorf("wire: ClientHello has a malformed cipher suite list")
	}
	m.CipherSuites = make([]uint16, 0, len(suites)/2)
	for !suites.Empty() {
		var cs uint16
		suites.ReadUint16(&cs)
		m.CipherSuites = append(m.CipherSuites, cs)
	}
	if !s.ReadUint8LengthPrefixed(&comp) {
		return nil, fmt.Errorf("wire: ClientHello has a malformed compression method list")
	}
	m.CompressionMethods = []byte(comp)
	if s.Empty() {
		return m, nil
	}
	if m.Extensions, err = parseExtensions(&s); err != nil {
		return nil, fmt.Errorf("ClientHello: %w", err)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("wire: ClientHello has %d bytes after its extensions", len(s))
	}
	return m, nil
}

// Extension returns the hello's first extension of type t.
func (m *ClientHello) Extension(t ExtensionType) (Extension, bool) {
	return FindExtension(m.Extensions, t)
}

// ServerName returns the SNI host name, "" when none was sent.
func (m *ClientHello) ServerName() (string, error) {
	e, ok := m.Extension(ExtServerName)
	if !ok {
		return "", nil
	}
	return ParseServerName(e.Data)
}

// SupportedVersions returns the versions the client offers: the
// supported_versions list when present, else legacy_version alone.
func (m *ClientHello) SupportedVersions() ([]uint16, error) {
	e, ok := m.Extension(ExtSupportedVersions)
	if !ok {
		return []uint16{m.Version}, nil
	}
	return ParseSupportedVersions(e.Data)
}

// helloRetryRequestRandom is the fixed ServerHello.random that marks a
// HelloRetryRequest (RFC 8446 section 4.1.3): SHA-256 of the string
// "HelloRetryRequest".
var helloRetryRequestRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
	0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// HelloRetryRequestRandom returns the random value that marks a
// HelloRetryRequest.
func HelloRetryRequestRandom() [32]byte { return helloRetryRequestRandom }

// Downgrade sentinels a TLS 1.3 server writes in the last 8 bytes of its
// random when it negotiates an older version (RFC 8446 section 4.1.3).
var (
	downgradeTLS12 = []byte("DOWNGRD\x01")
	downgradeTLS11 = []byte("DOWNGRD\x00")
)

// ServerHello is the server's answer to a ClientHello, or a
// HelloRetryRequest when Random is HelloRetryRequestRandom().
type ServerHello struct {
	Version           uint16
	Random            [32]byte
	SessionID         []byte
	CipherSuite       uint16
	CompressionMethod uint8
	// Extensions in wire order; nil means no extensions block.
	Extensions []Extension
}

// Marshal encodes the hello as a complete handshake message.
func (m *ServerHello) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(TypeServerHello))
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(m.Version)
		b.AddBytes(m.Random[:])
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.SessionID) })
		b.AddUint16(m.CipherSuite)
		b.AddUint8(m.CompressionMethod)
		if m.Extensions != nil {
			marshalExtensions(b, m.Extensions)
		}
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("wire: ServerHello does not fit its length fields: %w", err)
	}
	return out, nil
}

// ParseServerHello decodes a complete ServerHello (or HelloRetryRequest)
// handshake message.
func ParseServerHello(msg []byte) (*ServerHello, error) {
	body, err := handshakeBody(msg, TypeServerHello)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(body)
	m := &ServerHello{}
	var random, sid cryptobyte.String
	if !s.ReadUint16(&m.Version) || !s.ReadBytes((*[]byte)(&random), 32) {
		return nil, fmt.Errorf("wire: ServerHello too short for version and random")
	}
	copy(m.Random[:], random)
	if !s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 {
		return nil, fmt.Errorf("wire: ServerHello has a malformed session id")
	}
	m.SessionID = []byte(sid)
	if !s.ReadUint16(&m.CipherSuite) || !s.ReadUint8(&m.CompressionMethod) {
		return nil, fmt.Errorf("wire: ServerHello too short for cipher suite and compression")
	}
	if s.Empty() {
		return m, nil
	}
	if m.Extensions, err = parseExtensions(&s); err != nil {
		return nil, fmt.Errorf("ServerHello: %w", err)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("wire: ServerHello has %d bytes after its extensions", len(s))
	}
	return m, nil
}

// IsHelloRetryRequest reports whether this ServerHello is a TLS 1.3
// HelloRetryRequest: the server wants another ClientHello, usually with a
// key share for a different group.
func (m *ServerHello) IsHelloRetryRequest() bool { return m.Random == helloRetryRequestRandom }

// Extension returns the hello's first extension of type t.
func (m *ServerHello) Extension(t ExtensionType) (Extension, bool) {
	return FindExtension(m.Extensions, t)
}

// SelectedVersion returns the negotiated version: supported_versions when
// the server sent it (TLS 1.3), else legacy_version.
func (m *ServerHello) SelectedVersion() (uint16, error) {
	e, ok := m.Extension(ExtSupportedVersions)
	if !ok {
		return m.Version, nil
	}
	return ParseSelectedVersion(e.Data)
}

// DowngradeSentinel reports which downgrade marker, if any, the server put in
// its random: VersionTLS12 for "DOWNGRD\x01", VersionTLS11 for
// "DOWNGRD\x00", 0 for none. A TLS 1.3 server sets it when it negotiates
// less, so a client that offered 1.3 can detect a forced downgrade.
func (m *ServerHello) DowngradeSentinel() uint16 {
	switch tail := m.Random[24:]; {
	case bytes.Equal(tail, downgradeTLS12):
		return VersionTLS12
	case bytes.Equal(tail, downgradeTLS11):
		return VersionTLS11
	}
	return 0
}

// handshakeBody checks a complete handshake message's header and returns
// its body.
func handshakeBody(msg []byte, want HandshakeType) ([]byte, error) {
	h, n, err := ParseHandshake(msg, 1<<24)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", want, err)
	}
	if h.Type != want {
		return nil, fmt.Errorf("wire: expected %s, got %s", want, h.Type)
	}
	if n != len(msg) {
		return nil, fmt.Errorf("wire: %d bytes after the %s message", len(msg)-n, want)
	}
	return h.Body, nil
}
