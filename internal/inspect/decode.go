package inspect

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// decoded is what the recording of a TLS connection says in clear.
type decoded struct {
	clientHellos []*wire.ClientHello
	serverHellos []*wire.ServerHello // a HelloRetryRequest first, if any
	certificate  *wire.Certificate   // TLS 1.2 only
	skeRaw       []byte              // TLS 1.2 ServerKeyExchange
	ckeRaw       []byte              // TLS 1.2 ClientKeyExchange
	alerts       []wire.Alert        // cleartext alerts, either direction
	records      []RecordInfo
	problems     []string // what could not be decoded
}

// How many bytes of each record the trace keeps: enough to recognise a TLS
// record, and for plain HTTP enough to read headers and the start of a body,
// which is the point of showing it.
const (
	excerptLen     = 32
	httpExcerptLen = 512
)

// decodeRecording decodes both directions of a recorded TLS connection.
func decodeRecording(chunks []chunk) *decoded {
	d := &decoded{}
	client, server := splitStreams(chunks)
	version := d.decodeMessages(server.data, ServerToClient, 0)
	d.decodeMessages(client.data, ClientToServer, version)
	d.records = recordList(client, server, version == wire.VersionTLS13)
	return d
}

// decodeMessages reads one direction's cleartext handshake messages and
// returns the version a ServerHello selected.
func (d *decoded) decodeMessages(data []byte, dir Direction, version uint16) uint16 {
	r := wire.NewReader(bytes.NewReader(data))
	r.SetVersion(version)
	for i := 0; i < 10000; i++ {
		m, err := r.Next()
		if err == io.EOF || errors.Is(err, wire.ErrTruncated) {
			break
		}
		if err != nil {
			d.problems = append(d.problems, dir.String()+": "+err.Error())
			break
		}
		if m.Type == wire.TypeAlert && !m.Encrypted {
			if a, err := wire.ParseAlert(m.Data); err == nil {
				d.alerts = append(d.alerts, a)
			}
			continue
		}
		if m.Handshake == nil {
			continue
		}
		raw := m.Handshake.Bytes()
		var err2 error
		switch m.Handshake.Type {
		case wire.TypeClientHello:
			var ch *wire.ClientHello
			if ch, err2 = wire.ParseClientHello(raw); err2 == nil {
				d.clientHellos = append(d.clientHellos, ch)
			}
		case wire.TypeServerHello:
			var sh *wire.ServerHello
			if sh, err2 = wire.ParseServerHello(raw); err2 == nil {
				d.serverHellos = append(d.serverHellos, sh)
				if !sh.IsHelloRetryRequest() {
					version, _ = sh.SelectedVersion()
				}
			}
		case wire.TypeCertificate:
			d.certificate, err2 = wire.ParseCertificate(raw)
		case wire.TypeServerKeyExchange:
			d.skeRaw = raw
		case wire.TypeClientKeyExchange:
			d.ckeRaw = raw
		}
		if err2 != nil {
			d.problems = append(d.problems, err2.Error())
		}
	}
	return version
}

// recordState follows handshake message boundaries across one direction's
// records, to name the messages each record carries.
type recordState struct {
	ccs     bool
	hdr     []byte // a handshake header split across records
	need    int    // body bytes of the current message still to come
	current string
}

func (st *recordState) messages(frag []byte) (names []string) {
	b := frag
	for len(b) > 0 {
		if st.need > 0 {
			k := min(st.need, len(b))
			if len(names) == 0 && len(b) == len(frag) {
				names = append(names, st.current+" (continued)")
			}
			b, st.need = b[k:], st.need-k
			continue
		}
		k := min(wire.HandshakeHeaderLen-len(st.hdr), len(b))
		st.hdr, b = append(st.hdr, b[:k]...), b[k:]
		if len(st.hdr) < wire.HandshakeHeaderLen {
			break
		}
		st.current = wire.HandshakeType(st.hdr[0]).String()
		st.need = int(st.hdr[1])<<16 | int(st.hdr[2])<<8 | int(st.hdr[3])
		st.hdr = nil
		names = append(names, st.current)
	}
	return names
}

type placed struct {
	seq, off int
	info     RecordInfo
}

// recordList lists both directions' records in the order they crossed the
// wire, saying for each whether it was readable.
func recordList(client, server *stream, tls13 bool) []RecordInfo {
	var all []placed
	for _, s := range []*stream{client, server} {
		dir := ClientToServer
		if s == server {
			dir = ServerToClient
		}
		st := &recordState{}
		off := 0
		for off < len(s.data) {
			rec, n, err := wire.ParseRecord(s.data[off:], 0)
			if err != nil {
				info := RecordInfo{Direction: dir.String(), ContentType: "unparsed", Length: len(s.data) - off, Note: "not a complete TLS record: " + err.Error()}
				info.Hex, info.ASCII = excerpt(s.data[off:], excerptLen)
				c := s.chunkAt(off)
				info.AtMillis = millis(s.times[c])
				all = append(all, placed{s.seqs[c], off, info})
				break
			}
			c := s.chunkAt(off)
			info := RecordInfo{
				Direction:   dir.String(),
				AtMillis:    millis(s.times[c]),
				ContentType: rec.Type.String(),
				Version:     versionName(rec.Version),
				Length:      len(rec.Fragment),
			}
			switch {
			case rec.Type == wire.TypeApplicationData:
				info.Encrypted = true
			case st.ccs && !tls13:
				info.Encrypted = true
			}
			switch {
			case rec.Type == wire.TypeHandshake && !info.Encrypted:
				info.Messages = st.messages(rec.Fragment)
			case rec.Type == wire.TypeHandshake && info.Encrypted:
				info.Messages = []string{"Finished (encrypted)"}
			case rec.Type == wire.TypeAlert && !info.Encrypted:
				if a, err := wire.ParseAlert(rec.Fragment); err == nil {
					info.Messages = []string{"alert " + a.String()}
				}
			case rec.Type == wire.TypeChangeCipherSpec:
				if tls13 {
					info.Note = "no effect in TLS 1.3: sent only so that middleboxes let the connection through"
				} else {
					info.Note = "from the next record on, this direction is encrypted"
					st.ccs = true
				}
			}
			info.Hex, info.ASCII = excerpt(rec.Fragment, excerptLen)
			all = append(all, placed{s.seqs[c], off, info})
			off += n
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].seq != all[j].seq {
			return all[i].seq < all[j].seq
		}
		return all[i].off < all[j].off
	})
	out := make([]RecordInfo, len(all))
	for i, p := range all {
		p.info.Index = i + 1
		out[i] = p.info
	}
	if tls13 {
		noteTLS13(out)
	}
	return out
}

// noteTLS13 says what TLS 1.3's encrypted records carry. Their real type is
// inside the encryption; what is certain is the protocol's order: the
// server's encrypted records before the client's first one hold the rest of
// its handshake, the client's first is its Finished (after its certificate,
// when one was asked for).
func noteTLS13(recs []RecordInfo) {
	clientDone := false
	for i := range recs {
		r := &recs[i]
		if !r.Encrypted {
			continue
		}
		switch {
		case r.Direction == ServerToClient.String() && !clientDone:
			r.Note = "encrypted handshake: EncryptedExtensions, Certificate, CertificateVerify, Finished"
		case r.Direction == ClientToServer.String() && !clientDone:
			r.Note = "encrypted handshake: the client's Finished"
			clientDone = true
		case r.Direction == ServerToClient.String():
			// Only a server sends session tickets (NewSessionTicket).
			r.Note = "application data (or a session ticket)"
		default:
			r.Note = "application data (or an alert such as close_notify)"
		}
	}
}

func excerpt(b []byte, n int) (hexs, ascii string) {
	b = b[:min(len(b), n)]
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('.')
		}
	}
	return hex.EncodeToString(b), sb.String()
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// finishedInfo finds where encryption starts and counts round trips up to
// the point where the client may send application data: its own Finished in
// TLS 1.3, the server's Finished in TLS 1.2.
func finishedInfo(records []RecordInfo, tls13 bool) *FinishedInfo {
	f := &FinishedInfo{}
	end := 0
	for _, r := range records {
		if !r.Encrypted {
			continue
		}
		if r.Direction == ClientToServer.String() && f.ClientEncryptedFrom == 0 {
			f.ClientEncryptedFrom = r.Index
			if tls13 && end == 0 {
				end = r.Index
			}
		}
		if r.Direction == ServerToClient.String() && f.ServerEncryptedFrom == 0 {
			f.ServerEncryptedFrom = r.Index
			if !tls13 && end == 0 {
				end = r.Index
			}
		}
	}
	if end == 0 {
		end = len(records) + 1
	}
	last := ""
	for _, r := range records {
		if r.Index > end || (tls13 && r.Index == end) {
			break
		}
		if r.Direction == ServerToClient.String() && last == ClientToServer.String() {
			f.RoundTrips++
		}
		last = r.Direction
	}
	return f
}
