package wire

import (
	"errors"
	"fmt"
	"io"
)

// ContentType is the type of a TLS record (RFC 8446 section 5.1).
type ContentType uint8

// Record content types.
const (
	TypeChangeCipherSpec ContentType = 20
	TypeAlert            ContentType = 21
	TypeHandshake        ContentType = 22
	TypeApplicationData  ContentType = 23
	TypeHeartbeat        ContentType = 24
)

func (t ContentType) String() string {
	switch t {
	case TypeChangeCipherSpec:
		return "change_cipher_spec"
	case TypeAlert:
		return "alert"
	case TypeHandshake:
		return "handshake"
	case TypeApplicationData:
		return "application_data"
	case TypeHeartbeat:
		return "heartbeat"
	}
	return fmt.Sprintf("content_type(%d)", uint8(t))
}

// Protocol versions as they appear on the wire.
const (
	VersionSSL20 uint16 = 0x0002
	VersionSSL30 uint16 = 0x0300
	VersionTLS10 uint16 = 0x0301
	VersionTLS11 uint16 = 0x0302
	VersionTLS12 uint16 = 0x0303
	VersionTLS13 uint16 = 0x0304
)

// VersionName names a protocol version ("TLS 1.2"); GREASE and unknown values
// are shown in hex.
func VersionName(v uint16) string {
	switch v {
	case VersionSSL20:
		return "SSL 2.0"
	case VersionSSL30:
		return "SSL 3.0"
	case VersionTLS10:
		return "TLS 1.0"
	case VersionTLS11:
		return "TLS 1.1"
	case VersionTLS12:
		return "TLS 1.2"
	case VersionTLS13:
		return "TLS 1.3"
	}
	if IsGREASE(v) {
		return fmt.Sprintf("GREASE(0x%04x)", v)
	}
	return fmt.Sprintf("0x%04x", v)
}

// IsGREASE reports whether v is one of the reserved GREASE values of RFC 8701
// (0x0a0a, 0x1a1a, ... 0xfafa) that clients send to keep servers tolerant.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// Record sizes (RFC 8446 section 5.1-5.2, RFC 5246 section 6.2).
const (
	RecordHeaderLen = 5
	// MaxPlaintext is the largest fragment a sender may put in a record.
	MaxPlaintext = 1 << 14
	// MaxCiphertext is the largest protected fragment of TLS 1.2 and earlier.
	MaxCiphertext = MaxPlaintext + 2048
)

// Record is one TLS record: header fields and the fragment as sent.
type Record struct {
	Type     ContentType
	Version  uint16
	Fragment []byte
}

// Marshal encodes the record. It fails when the fragment does not fit the
// 16-bit length field; a caller that wants a fragment longer than the
// protocol allows (to probe a server) may still send it up to 65535 bytes.
func (r *Record) Marshal() ([]byte, error) {
	if len(r.Fragment) > 0xffff {
		return nil, fmt.Errorf("wire: record fragment of %d bytes does not fit a record (max 65535)", len(r.Fragment))
	}
	b := make([]byte, RecordHeaderLen, RecordHeaderLen+len(r.Fragment))
	b[0] = byte(r.Type)
	b[1], b[2] = byte(r.Version>>8), byte(r.Version)
	b[3], b[4] = byte(len(r.Fragment)>>8), byte(len(r.Fragment))
	return append(b, r.Fragment...), nil
}

// ErrTruncated is returned (wrapped) when the input ends inside a record or
// message: more bytes would be needed to decode it.
var ErrTruncated = errors.New("wire: truncated input")

// ParseRecord decodes the record at the start of b and returns it with the
// number of bytes it used. The fragment aliases b. It rejects fragments longer
// than maxLen (0 means MaxCiphertext+256, what TLS 1.2 allows plus slack), and
// content types outside 20-24 (which usually means the peer does not speak
// TLS, or speaks SSLv2).
func ParseRecord(b []byte, maxLen int) (Record, int, error) {
	if maxLen <= 0 {
		maxLen = MaxCiphertext + 256
	}
	if len(b) < RecordHeaderLen {
		return Record{}, 0, fmt.Errorf("record header needs %d bytes, have %d: %w", RecordHeaderLen, len(b), ErrTruncated)
	}
	r := Record{Type: ContentType(b[0]), Version: uint16(b[1])<<8 | uint16(b[2])}
	if r.Type < TypeChangeCipherSpec || r.Type > TypeHeartbeat {
		return Record{}, 0, fmt.Errorf("wire: not a TLS record: content type %d (bytes % x)", b[0], b[:RecordHeaderLen])
	}
	if b[1] != 3 && !(b[1] == 0 && b[2] == 2) {
		return Record{}, 0, fmt.Errorf("wire: not a TLS record: version 0x%04x", r.Version)
	}
	n := int(b[3])<<8 | int(b[4])
	if n > maxLen {
		return Record{}, 0, fmt.Errorf("wire: %s record of %d bytes exceeds the limit of %d", r.Type, n, maxLen)
	}
	if len(b) < RecordHeaderLen+n {
		return Record{}, 0, fmt.Errorf("%s record needs %d bytes, have %d: %w", r.Type, n, len(b)-RecordHeaderLen, ErrTruncated)
	}
	r.Fragment = b[RecordHeaderLen : RecordHeaderLen+n]
	return r, RecordHeaderLen + n, nil
}

// SplitRecords splits a byte stream into records. It returns the records that
// are complete and the bytes left over (a record cut short at the end of the
// stream); it fails only on bytes that are not a TLS record.
func SplitRecords(stream []byte, maxLen int) ([]Record, []byte, error) {
	var recs []Record
	for len(stream) > 0 {
		r, n, err := ParseRecord(stream, maxLen)
		if errors.Is(err, ErrTruncated) {
			return recs, stream, nil
		}
		if err != nil {
			return recs, stream, err
		}
		recs = append(recs, r)
		stream = stream[n:]
	}
	return recs, nil, nil
}

// RecordReader reads records from a stream, one at a time.
type RecordReader struct {
	r io.Reader
	// MaxFragment bounds the length of one record (0: MaxCiphertext+256).
	MaxFragment int
}

// NewRecordReader returns a RecordReader on r.
func NewRecordReader(r io.Reader) *RecordReader { return &RecordReader{r: r} }

// ReadRecord reads the next record. It returns io.EOF when the stream ends
// cleanly between records and an error wrapping ErrTruncated when it ends
// inside one. The fragment is freshly allocated.
func (rr *RecordReader) ReadRecord() (Record, error) {
	var hdr [RecordHeaderLen]byte
	if n, err := io.ReadFull(rr.r, hdr[:]); err != nil {
		if err == io.EOF {
			return Record{}, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return Record{}, fmt.Errorf("stream ended after %d bytes of a record header: %w", n, ErrTruncated)
		}
		return Record{}, err
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if _, _, err := ParseRecord(hdr[:], rr.MaxFragment); err != nil && !errors.Is(err, ErrTruncated) {
		return Record{}, err
	}
	frag := make([]byte, n)
	if _, err := io.ReadFull(rr.r, frag); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Record{}, fmt.Errorf("stream ended inside a %s record of %d bytes: %w", ContentType(hdr[0]), n, ErrTruncated)
		}
		return Record{}, err
	}
	return Record{Type: ContentType(hdr[0]), Version: uint16(hdr[1])<<8 | uint16(hdr[2]), Fragment: frag}, nil
}

// FragmentRecords cuts data into records of the given type and version, at
// most maxFragment bytes each (0: MaxPlaintext), and returns them encoded
// back to back. An empty data gives one empty record.
func FragmentRecords(typ ContentType, version uint16, data []byte, maxFragment int) []byte {
	if maxFragment <= 0 || maxFragment > 0xffff {
		maxFragment = MaxPlaintext
	}
	var out []byte
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), maxFragment)
		r := Record{Type: typ, Version: version, Fragment: data[:n]}
		b, _ := r.Marshal() // n <= 0xffff
		out = append(out, b...)
		data = data[n:]
	}
	return out
}
