package wire

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// ExtensionType is a hello extension's type code (IANA "TLS ExtensionType
// Values").
type ExtensionType uint16

// Extension types that tlsgate decodes or builds.
const (
	ExtServerName              ExtensionType = 0
	ExtStatusRequest           ExtensionType = 5
	ExtSupportedGroups         ExtensionType = 10
	ExtECPointFormats          ExtensionType = 11
	ExtSignatureAlgorithms     ExtensionType = 13
	ExtHeartbeat               ExtensionType = 15
	ExtALPN                    ExtensionType = 16
	ExtSCT                     ExtensionType = 18
	ExtPadding                 ExtensionType = 21
	ExtEncryptThenMAC          ExtensionType = 22
	ExtExtendedMasterSecret    ExtensionType = 23
	ExtCompressCertificate     ExtensionType = 27
	ExtRecordSizeLimit         ExtensionType = 28
	ExtSessionTicket           ExtensionType = 35
	ExtPreSharedKey            ExtensionType = 41
	ExtEarlyData               ExtensionType = 42
	ExtSupportedVersions       ExtensionType = 43
	ExtCookie                  ExtensionType = 44
	ExtPSKKeyExchangeModes     ExtensionType = 45
	ExtCertificateAuthorities  ExtensionType = 47
	ExtSignatureAlgorithmsCert ExtensionType = 50
	ExtKeyShare                ExtensionType = 51
	ExtEncryptedClientHello    ExtensionType = 0xfe0d
	ExtRenegotiationInfo       ExtensionType = 0xff01
)

var extensionNames = map[ExtensionType]string{
	ExtServerName:              "server_name",
	ExtStatusRequest:           "status_request",
	ExtSupportedGroups:         "supported_groups",
	ExtECPointFormats:          "ec_point_formats",
	ExtSignatureAlgorithms:     "signature_algorithms",
	ExtHeartbeat:               "heartbeat",
	ExtALPN:                    "application_layer_protocol_negotiation",
	ExtSCT:                     "signed_certificate_timestamp",
	ExtPadding:                 "padding",
	ExtEncryptThenMAC:          "encrypt_then_mac",
	ExtExtendedMasterSecret:    "extended_master_secret",
	ExtCompressCertificate:     "compress_certificate",
	ExtRecordSizeLimit:         "record_size_limit",
	ExtSessionTicket:           "session_ticket",
	ExtPreSharedKey:            "pre_shared_key",
	ExtEarlyData:               "early_data",
	ExtSupportedVersions:       "supported_versions",
	ExtCookie:                  "cookie",
	ExtPSKKeyExchangeModes:     "psk_key_exchange_modes",
	ExtCertificateAuthorities:  "certificate_authorities",
	ExtSignatureAlgorithmsCert: "signature_algorithms_cert",
	ExtKeyShare:                "key_share",
	ExtEncryptedClientHello:    "encrypted_client_hello",
	ExtRenegotiationInfo:       "renegotiation_info",
}

func (t ExtensionType) String() string {
	if s, ok := extensionNames[t]; ok {
		return s
	}
	if IsGREASE(uint16(t)) {
		return fmt.Sprintf("GREASE(0x%04x)", uint16(t))
	}
	return fmt.Sprintf("extension(%d)", uint16(t))
}

// Extension is one hello extension as it is on the wire. Hellos keep their
// extensions as a list of these, in order, so that unknown and malformed
// ones survive a round trip; the Parse* functions below decode the body of
// the known ones and the *Extension functions build them.
type Extension struct {
	Type ExtensionType
	Data []byte
}

func (e Extension) String() string { return fmt.Sprintf("%s (%d bytes)", e.Type, len(e.Data)) }

// FindExtension returns the first extension of type t.
func FindExtension(exts []Extension, t ExtensionType) (Extension, bool) {
	for _, e := range exts {
		if e.Type == t {
			return e, true
		}
	}
	return Extension{}, false
}

func marshalExtensions(b *cryptobyte.Builder, exts []Extension) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, e := range exts {
			b.AddUint16(uint16(e.Type))
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
		}
	})
}

// parseExtensions reads the extensions block; it refuses duplicates, which
// RFC 8446 section 4.2 forbids and which would make FindExtension ambiguous.
func parseExtensions(s *cryptobyte.String) ([]Extension, error) {
	var block cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&block) {
		return nil, fmt.Errorf("wire: malformed extensions block")
	}
	exts := []Extension{}
	seen := map[ExtensionType]bool{}
	for !block.Empty() {
		var t uint16
		var data cryptobyte.String
		if !block.ReadUint16(&t) || !block.ReadUint16LengthPrefixed(&data) {
			return nil, fmt.Errorf("wire: malformed extension after %d extensions", len(exts))
		}
		if seen[ExtensionType(t)] {
			return nil, fmt.Errorf("wire: duplicate %s extension", ExtensionType(t))
		}
		seen[ExtensionType(t)] = true
		exts = append(exts, Extension{Type: ExtensionType(t), Data: []byte(data)})
	}
	return exts, nil
}

func build(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	out, err := b.Bytes()
	if err != nil {
		// Only a length overflow can fail, which the callers' inputs (bounded
		// by the wire format they came from or a caller's small lists) make a
		// programming error.
		panic("wire: " + err.Error())
	}
	return out
}

func malformed(t ExtensionType) error { return fmt.Errorf("wire: malformed %s extension", t) }

// ServerNameExtension builds server_name with one host_name entry.
func ServerNameExtension(host string) Extension {
	return Extension{ExtServerName, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(0) // host_name
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(host)) })
		})
	})}
}

// ParseServerName returns the host_name of a ClientHello's server_name
// extension. A server's (empty) acknowledgement gives "".
func ParseServerName(data []byte) (string, error) {
	s := cryptobyte.String(data)
	if s.Empty() {
		return "", nil
	}
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return "", malformed(ExtServerName)
	}
	host := ""
	for !list.Empty() {
		var typ uint8
		var name cryptobyte.String
		if !list.ReadUint8(&typ) || !list.ReadUint16LengthPrefixed(&name) {
			return "", malformed(ExtServerName)
		}
		if typ == 0 && host == "" {
			host = string(name)
		}
	}
	return host, nil
}

func uint16List(t ExtensionType, v []uint16) Extension {
	return Extension{t, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, x := range v {
				b.AddUint16(x)
			}
		})
	})}
}

func parseUint16List(t ExtensionType, data []byte) ([]uint16, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || len(list)%2 != 0 {
		return nil, malformed(t)
	}
	out := make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var x uint16
		list.ReadUint16(&x)
		out = append(out, x)
	}
	return out, nil
}

func uint8List(t ExtensionType, v []uint8) Extension {
	return Extension{t, build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
	})}
}

func parseUint8List(t ExtensionType, data []byte) ([]uint8, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() {
		return nil, malformed(t)
	}
	return append([]uint8{}, list...), nil
}

// SupportedGroupsExtension builds supported_groups (named groups by code).
func SupportedGroupsExtension(groups []uint16) Extension {
	return uint16List(ExtSupportedGroups, groups)
}

// ParseSupportedGroups decodes supported_groups.
func ParseSupportedGroups(data []byte) ([]uint16, error) {
	return parseUint16List(ExtSupportedGroups, data)
}

// SignatureAlgorithmsExtension builds signature_algorithms (or, with
// t = ExtSignatureAlgorithmsCert, signature_algorithms_cert).
func SignatureAlgorithmsExtension(t ExtensionType, schemes []uint16) Extension {
	return uint16List(t, schemes)
}

// ParseSignatureAlgorithms decodes signature_algorithms or
// signature_algorithms_cert.
func ParseSignatureAlgorithms(data []byte) ([]uint16, error) {
	return parseUint16List(ExtSignatureAlgorithms, data)
}

// ECPointFormatsExtension builds ec_point_formats (0 = uncompressed).
func ECPointFormatsExtension(formats []uint8) Extension {
	return uint8List(ExtECPointFormats, formats)
}

// ParseECPointFormats decodes ec_point_formats.
func ParseECPointFormats(data []byte) ([]uint8, error) {
	return parseUint8List(ExtECPointFormats, data)
}

// PSK key exchange modes.
const (
	PSKModeKE    uint8 = 0
	PSKModeDHEKE uint8 = 1
)

// PSKKeyExchangeModesExtension builds psk_key_exchange_modes.
func PSKKeyExchangeModesExtension(modes []uint8) Extension {
	return uint8List(ExtPSKKeyExchangeModes, modes)
}

// ParsePSKKeyExchangeModes decodes psk_key_exchange_modes.
func ParsePSKKeyExchangeModes(data []byte) ([]uint8, error) {
	return parseUint8List(ExtPSKKeyExchangeModes, data)
}

// SupportedVersionsExtension builds a ClientHello's supported_versions.
func SupportedVersionsExtension(versions []uint16) Extension {
	return Extension{ExtSupportedVersions, build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, v := range versions {
				b.AddUint16(v)
			}
		})
	})}
}

// ParseSupportedVersions decodes a ClientHello's supported_versions.
func ParseSupportedVersions(data []byte) ([]uint16, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&list) || !s.Empty() || len(list)%2 != 0 {
		return nil, malformed(ExtSupportedVersions)
	}
	var out []uint16
	for !list.Empty() {
		var v uint16
		list.ReadUint16(&v)
		out = append(out, v)
	}
	return out, nil
}

// SelectedVersionExtension builds a ServerHello's supported_versions.
func SelectedVersionExtension(v uint16) Extension {
	return Extension{ExtSupportedVersions, []byte{byte(v >> 8), byte(v)}}
}

// ParseSelectedVersion decodes a ServerHello's supported_versions.
func ParseSelectedVersion(data []byte) (uint16, error) {
	return parseSingleUint16(ExtSupportedVersions, data)
}

func parseSingleUint16(t ExtensionType, data []byte) (uint16, error) {
	if len(data) != 2 {
		return 0, malformed(t)
	}
	return uint16(data[0])<<8 | uint16(data[1]), nil
}

// KeyShare is one key_share entry: a named group and the public value.
type KeyShare struct {
	Group uint16
	Data  []byte
}

// KeyShareExtension builds a ClientHello's key_share with the given entries.
func KeyShareExtension(shares []KeyShare) Extension {
	return Extension{ExtKeyShare, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, ks := range shares {
				b.AddUint16(ks.Group)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.Data) })
			}
		})
	})}
}

// ParseKeyShares decodes a ClientHello's key_share.
func ParseKeyShares(data []byte) ([]KeyShare, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() {
		return nil, malformed(ExtKeyShare)
	}
	out := []KeyShare{}
	for !list.Empty() {
		var ks KeyShare
		var d cryptobyte.String
		if !list.ReadUint16(&ks.Group) || !list.ReadUint16LengthPrefixed(&d) {
			return nil, malformed(ExtKeyShare)
		}
		ks.Data = []byte(d)
		out = append(out, ks)
	}
	return out, nil
}

// ServerKeyShareExtension builds a ServerHello's key_share.
func ServerKeyShareExtension(ks KeyShare) Extension {
	return Extension{ExtKeyShare, build(func(b *cryptobyte.Builder) {
		b.AddUint16(ks.Group)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ks.Data) })
	})}
}

// ParseServerKeyShare decodes a ServerHello's key_share.
func ParseServerKeyShare(data []byte) (KeyShare, error) {
	s := cryptobyte.String(data)
	var ks KeyShare
	var d cryptobyte.String
	if !s.ReadUint16(&ks.Group) || !s.ReadUint16LengthPrefixed(&d) || !s.Empty() {
		return KeyShare{}, malformed(ExtKeyShare)
	}
	ks.Data = []byte(d)
	return ks, nil
}

// HRRKeyShareExtension builds a HelloRetryRequest's key_share: the group the
// server wants a share for.
func HRRKeyShareExtension(group uint16) Extension {
	return Extension{ExtKeyShare, []byte{byte(group >> 8), byte(group)}}
}

// ParseHRRKeyShare decodes a HelloRetryRequest's key_share.
func ParseHRRKeyShare(data []byte) (uint16, error) { return parseSingleUint16(ExtKeyShare, data) }

// ALPNExtension builds application_layer_protocol_negotiation.
func ALPNExtension(protocols []string) Extension {
	return Extension{ExtALPN, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, p := range protocols {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(p)) })
			}
		})
	})}
}

// ParseALPN decodes application_layer_protocol_negotiation (a server's has
// exactly one protocol).
func ParseALPN(data []byte) ([]string, error) {
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return nil, malformed(ExtALPN)
	}
	var out []string
	for !list.Empty() {
		var p cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&p) || p.Empty() {
			return nil, malformed(ExtALPN)
		}
		out = append(out, string(p))
	}
	return out, nil
}

// PSKIdentity is one offered pre-shared key identity.
type PSKIdentity struct {
	Identity            []byte
	ObfuscatedTicketAge uint32
}

// PreSharedKey is a ClientHello's pre_shared_key (which must be its last
// extension).
type PreSharedKey struct {
	Identities []PSKIdentity
	Binders    [][]byte
}

// PreSharedKeyExtension builds a ClientHello's pre_shared_key.
func PreSharedKeyExtension(p PreSharedKey) Extension {
	return Extension{ExtPreSharedKey, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, id := range p.Identities {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(id.Identity) })
				b.AddUint32(id.ObfuscatedTicketAge)
			}
		})
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, binder := range p.Binders {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(binder) })
			}
		})
	})}
}

// ParsePreSharedKey decodes a ClientHello's pre_shared_key.
func ParsePreSharedKey(data []byte) (PreSharedKey, error) {
	s := cryptobyte.String(data)
	var ids, binders cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ids) || !s.ReadUint16LengthPrefixed(&binders) || !s.Empty() {
		return PreSharedKey{}, malformed(ExtPreSharedKey)
	}
	var p PreSharedKey
	for !ids.Empty() {
		var id PSKIdentity
		var v cryptobyte.String
		if !ids.ReadUint16LengthPrefixed(&v) || !ids.ReadUint32(&id.ObfuscatedTicketAge) {
			return PreSharedKey{}, malformed(ExtPreSharedKey)
		}
		id.Identity = []byte(v)
		p.Identities = append(p.Identities, id)
	}
	for !binders.Empty() {
		var v cryptobyte.String
		if !binders.ReadUint8LengthPrefixed(&v) {
			return PreSharedKey{}, malformed(ExtPreSharedKey)
		}
		p.Binders = append(p.Binders, []byte(v))
	}
	if len(p.Identities) == 0 || len(p.Identities) != len(p.Binders) {
		return PreSharedKey{}, fmt.Errorf("wire: pre_shared_key has %d identities and %d binders", len(p.Identities), len(p.Binders))
	}
	return p, nil
}

// SelectedPSKExtension builds a ServerHello's pre_shared_key.
func SelectedPSKExtension(index uint16) Extension {
	return Extension{ExtPreSharedKey, []byte{byte(index >> 8), byte(index)}}
}

// ParseSelectedPSK decodes a ServerHello's pre_shared_key: the index of the
// identity the server accepted, which means the session was resumed.
func ParseSelectedPSK(data []byte) (uint16, error) { return parseSingleUint16(ExtPreSharedKey, data) }

// RenegotiationInfoExtension builds renegotiation_info; an initial handshake
// sends it empty.
func RenegotiationInfoExtension(verifyData []byte) Extension {
	return Extension{ExtRenegotiationInfo, build(func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(verifyData) })
	})}
}

// ParseRenegotiationInfo decodes renegotiation_info.
func ParseRenegotiationInfo(data []byte) ([]byte, error) {
	s := cryptobyte.String(data)
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) || !s.Empty() {
		return nil, malformed(ExtRenegotiationInfo)
	}
	return []byte(v), nil
}

// StatusTypeOCSP is the only certificate status type in use.
const StatusTypeOCSP uint8 = 1

// StatusRequestExtension builds a ClientHello's status_request asking for a
// stapled OCSP response with no responder IDs or request extensions.
func StatusRequestExtension() Extension {
	return Extension{ExtStatusRequest, []byte{StatusTypeOCSP, 0, 0, 0, 0}}
}

// StatusRequest is a ClientHello's status_request.
type StatusRequest struct {
	StatusType   uint8
	ResponderIDs [][]byte
	Extensions   []byte
}

// ParseStatusRequest decodes a ClientHello's status_request. A server's is
// empty: use len(data) == 0.
func ParseStatusRequest(data []byte) (StatusRequest, error) {
	s := cryptobyte.String(data)
	var sr StatusRequest
	if !s.ReadUint8(&sr.StatusType) {
		return sr, malformed(ExtStatusRequest)
	}
	if sr.StatusType != StatusTypeOCSP {
		sr.Extensions = []byte(s) // unknown type: keep the rest raw
		return sr, nil
	}
	var ids, exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ids) || !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return StatusRequest{}, malformed(ExtStatusRequest)
	}
	for !ids.Empty() {
		var id cryptobyte.String
		if !ids.ReadUint16LengthPrefixed(&id) {
			return StatusRequest{}, malformed(ExtStatusRequest)
		}
		sr.ResponderIDs = append(sr.ResponderIDs, []byte(id))
	}
	sr.Extensions = []byte(exts)
	return sr, nil
}

// SCTListExtension builds a server's signed_certificate_timestamp carrying
// the given serialized SCTs.
func SCTListExtension(scts [][]byte) Extension {
	return Extension{ExtSCT, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, sct := range scts {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sct) })
			}
		})
	})}
}

// ParseSCTList decodes a server's signed_certificate_timestamp into the
// serialized SCTs. A client's is empty.
func ParseSCTList(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	s := cryptobyte.String(data)
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) || !s.Empty() || list.Empty() {
		return nil, malformed(ExtSCT)
	}
	var out [][]byte
	for !list.Empty() {
		var sct cryptobyte.String
		if !list.ReadUint16LengthPrefixed(&sct) || sct.Empty() {
			return nil, malformed(ExtSCT)
		}
		out = append(out, []byte(sct))
	}
	return out, nil
}

// Heartbeat modes (RFC 6520).
const (
	HeartbeatPeerAllowed    uint8 = 1
	HeartbeatPeerNotAllowed uint8 = 2
)

// HeartbeatExtension builds heartbeat.
func HeartbeatExtension(mode uint8) Extension { return Extension{ExtHeartbeat, []byte{mode}} }

// ParseHeartbeat decodes heartbeat.
func ParseHeartbeat(data []byte) (uint8, error) {
	if len(data) != 1 {
		return 0, malformed(ExtHeartbeat)
	}
	return data[0], nil
}

// EmptyExtension builds an extension with no body, such as
// encrypt_then_mac, extended_master_secret, a first session_ticket, or the
// client's status_request-less signed_certificate_timestamp.
func EmptyExtension(t ExtensionType) Extension { return Extension{Type: t, Data: []byte{}} }

// SessionTicketExtension builds session_ticket with a ticket to resume, or
// empty to ask for one.
func SessionTicketExtension(ticket []byte) Extension {
	return Extension{ExtSessionTicket, append([]byte{}, ticket...)}
}

// CookieExtension builds cookie (sent in a HelloRetryRequest and echoed).
func CookieExtension(cookie []byte) Extension {
	return Extension{ExtCookie, build(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cookie) })
	})}
}

// ParseCookie decodes cookie.
func ParseCookie(data []byte) ([]byte, error) {
	s := cryptobyte.String(data)
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) || !s.Empty() || v.Empty() {
		return nil, malformed(ExtCookie)
	}
	return []byte(v), nil
}

// PaddingExtension builds padding of n zero bytes (RFC 7685), which clients
// use to step over ClientHello sizes that some servers choke on.
func PaddingExtension(n int) Extension { return Extension{ExtPadding, make([]byte, n)} }
