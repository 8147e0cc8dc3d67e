package wire

import (
	"errors"
	"fmt"
	"io"
)

// HandshakeType is the msg_type of a handshake message.
type HandshakeType uint8

// Handshake message types (RFC 8446 section 4, RFC 5246 section 7.4).
const (
	TypeHelloRequest        HandshakeType = 0
	TypeClientHello         HandshakeType = 1
	TypeServerHello         HandshakeType = 2
	TypeHelloVerifyRequest  HandshakeType = 3
	TypeNewSessionTicket    HandshakeType = 4
	TypeEndOfEarlyData      HandshakeType = 5
	TypeEncryptedExtensions HandshakeType = 8
	TypeCertificate         HandshakeType = 11
	TypeServerKeyExchange   HandshakeType = 12
	TypeCertificateRequest  HandshakeType = 13
	TypeServerHelloDone     HandshakeType = 14
	TypeCertificateVerify   HandshakeType = 15
	TypeClientKeyExchange   HandshakeType = 16
	TypeFinished            HandshakeType = 20
	TypeCertificateStatus   HandshakeType = 22
	TypeKeyUpdate           HandshakeType = 24
	TypeMessageHash         HandshakeType = 254
)

var handshakeNames = map[HandshakeType]string{
	TypeHelloRequest:        "HelloRequest",
	TypeClientHello:         "ClientHello",
	TypeServerHello:         "ServerHello",
	TypeHelloVerifyRequest:  "HelloVerifyRequest",
	TypeNewSessionTicket:    "NewSessionTicket",
	TypeEndOfEarlyData:      "EndOfEarlyData",
	TypeEncryptedExtensions: "EncryptedExtensions",
	TypeCertificate:         "Certificate",
	TypeServerKeyExchange:   "ServerKeyExchange",
	TypeCertificateRequest:  "CertificateRequest",
	TypeServerHelloDone:     "ServerHelloDone",
	TypeCertificateVerify:   "CertificateVerify",
	TypeClientKeyExchange:   "ClientKeyExchange",
	TypeFinished:            "Finished",
	TypeCertificateStatus:   "CertificateStatus",
	TypeKeyUpdate:           "KeyUpdate",
	TypeMessageHash:         "MessageHash",
}

func (t HandshakeType) String() string {
	if s, ok := handshakeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("handshake_type(%d)", uint8(t))
}

// HandshakeHeaderLen is the length of msg_type plus the 24-bit length.
const HandshakeHeaderLen = 4

// DefaultMaxHandshake bounds one handshake message (a certificate chain is the
// largest a server sends; crypto/tls accepts 256 KiB for it).
const DefaultMaxHandshake = 1 << 18

// Handshake is one handshake message: its type and its body without the
// 4-byte header.
type Handshake struct {
	Type HandshakeType
	Body []byte
}

// Bytes returns the message with its header, the form the Parse functions
// of each message type take. It panics, like Marshal fails, only for a body
// of 16 MiB or more.
func (h *Handshake) Bytes() []byte {
	b, err := h.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// Marshal encodes the message with its header.
func (h *Handshake) Marshal() ([]byte, error) {
	if len(h.Body) >= 1<<24 {
		return nil, fmt.Errorf("wire: %s body of %d bytes does not fit a handshake message", h.Type, len(h.Body))
	}
	b := make([]byte, HandshakeHeaderLen, HandshakeHeaderLen+len(h.Body))
	b[0] = byte(h.Type)
	b[1], b[2], b[3] = byte(len(h.Body)>>16), byte(len(h.Body)>>8), byte(len(h.Body))
	return append(b, h.Body...), nil
}

// ParseHandshake decodes the handshake message at the start of b and returns
// it with the number of bytes used. The body aliases b.
func ParseHandshake(b []byte, maxLen int) (Handshake, int, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxHandshake
	}
	if len(b) < HandshakeHeaderLen {
		return Handshake{}, 0, fmt.Errorf("handshake header needs 4 bytes, have %d: %w", len(b), ErrTruncated)
	}
	t := HandshakeType(b[0])
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > maxLen {
		return Handshake{}, 0, fmt.Errorf("wire: %s of %d bytes exceeds the limit of %d", t, n, maxLen)
	}
	if len(b) < HandshakeHeaderLen+n {
		return Handshake{}, 0, fmt.Errorf("%s needs %d bytes, have %d: %w", t, n, len(b)-HandshakeHeaderLen, ErrTruncated)
	}
	return Handshake{Type: t, Body: b[HandshakeHeaderLen : HandshakeHeaderLen+n]}, HandshakeHeaderLen + n, nil
}

// Message is what Reader.Next returns: a whole handshake message reassembled
// from one or more records, or one record of another content type.
type Message struct {
	// Type is the content type of the record(s) the message came in.
	Type ContentType
	// RecordVersion is the version field of the (first) record.
	RecordVersion uint16
	// Handshake is set for a cleartext handshake message.
	Handshake *Handshake
	// Data is the record fragment when Handshake is nil: an alert, a
	// change_cipher_spec, application data, or a handshake record sent after
	// change_cipher_spec (encrypted, so not decoded).
	Data []byte
	// Encrypted is true for a handshake record after change_cipher_spec and
	// for every application_data record: their bytes are ciphertext once the
	// handshake keys are in use.
	Encrypted bool
	// Records counts the records the message came in.
	Records int
}

// Reader splits one direction of a TLS byte stream into handshake messages
// and other records. It reassembles handshake messages across records and
// coalesced in one record, and stops decoding once the peer has sent
// change_cipher_spec in TLS 1.2 and earlier, because what follows is
// encrypted. In TLS 1.3 encrypted records carry the application_data type
// and are returned as such (see SetVersion).
type Reader struct {
	rr *RecordReader
	// MaxHandshake bounds one handshake message (0: DefaultMaxHandshake).
	MaxHandshake int

	pending    []byte // handshake bytes not yet returned as messages
	pendingVer uint16
	pendingRec int
	ccsSeen    bool
	tls13      bool
}

// SetVersion tells the reader the negotiated version. In TLS 1.3
// change_cipher_spec is a no-op sent for middlebox compatibility, and a
// ClientHello after it (answering a HelloRetryRequest) is still cleartext.
// A reader learns it by itself from a ServerHello it decodes; the client
// direction needs to be told.
func (r *Reader) SetVersion(v uint16) { r.tls13 = v == VersionTLS13 }

// NewReader returns a Reader on one direction of a TLS stream.
func NewReader(r io.Reader) *Reader { return &Reader{rr: NewRecordReader(r)} }

// Records exposes the underlying RecordReader, to set its limits.
func (r *Reader) Records() *RecordReader { return r.rr }

// Next returns the next message. It returns io.EOF when the stream ends
// cleanly and an error wrapping ErrTruncated when it ends inside a record or
// a handshake message.
func (r *Reader) Next() (*Message, error) {
	for {
		if len(r.pending) >= HandshakeHeaderLen {
			h, n, err := ParseHandshake(r.pending, r.MaxHandshake)
			if err == nil {
				body := append([]byte(nil), h.Body...)
				m := &Message{Type: TypeHandshake, RecordVersion: r.pendingVer, Handshake: &Handshake{Type: h.Type, Body: body}, Records: r.pendingRec}
				r.pending = r.pending[n:]
				if len(r.pending) == 0 {
					r.pending = nil
				}
				r.pendingRec = 0
				if h.Type == TypeServerHello {
					// A HelloRetryRequest carries supported_versions too.
					if sh, err := ParseServerHello(m.Handshake.Bytes()); err == nil {
						v, _ := sh.SelectedVersion()
						r.SetVersion(v)
					}
				}
				return m, nil
			}
			if !errors.Is(err, ErrTruncated) {
				return nil, err
			}
		}
		rec, err := r.rr.ReadRecord()
		if err != nil {
			if err == io.EOF && len(r.pending) > 0 {
				return nil, fmt.Errorf("stream ended inside a handshake message (%d bytes buffered): %w", len(r.pending), ErrTruncated)
			}
			return nil, err
		}
		if rec.Type == TypeHandshake && (!r.ccsSeen || r.tls13) {
			if len(rec.Fragment) == 0 {
				return nil, fmt.Errorf("wire: empty handshake record")
			}
			if len(r.pending) == 0 {
				r.pendingVer = rec.Version
				r.pendingRec = 0
			}
			r.pending = append(r.pending, rec.Fragment...)
			r.pendingRec++
			continue
		}
		if len(r.pending) > 0 {
			return nil, fmt.Errorf("wire: %s record interleaved inside a handshake message", rec.Type)
		}
		m := &Message{Type: rec.Type, RecordVersion: rec.Version, Data: rec.Fragment, Records: 1}
		switch {
		case rec.Type == TypeChangeCipherSpec:
			r.ccsSeen = true
		case rec.Type == TypeApplicationData:
			m.Encrypted = true
		case r.ccsSeen && !r.tls13:
			m.Encrypted = true // the Finished and any alert after it
		}
		return m, nil
	}
}

// HandshakeRecords encodes handshake messages into records of the given
// version, packing them back to back and cutting at maxFragment bytes
// (0: MaxPlaintext), as a TLS stack does.
func HandshakeRecords(version uint16, maxFragment int, msgs ...Handshake) ([]byte, error) {
	var flight []byte
	for i := range msgs {
		b, err := msgs[i].Marshal()
		if err != nil {
			return nil, err
		}
		flight = append(flight, b...)
	}
	return FragmentRecords(TypeHandshake, version, flight, maxFragment), nil
}
