package scan

import (
	"time"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// SchemaVersion is the version of the JSON document a scan writes. Within a
// version, changes are additive: fields are added, never renamed, retyped or
// removed. docs/scan.md documents every field.
const SchemaVersion = 1

// Protocol versions as they appear on the wire; tlspolicy is the one place
// that knows them. SSL 2.0 has its own record format and is probed separately.
const (
	VersionSSL20 = tlspolicy.VersionSSL20
	VersionSSL30 = tlspolicy.VersionSSL30
	VersionTLS10 = tlspolicy.VersionTLS10
	VersionTLS11 = tlspolicy.VersionTLS11
	VersionTLS12 = tlspolicy.VersionTLS12
	VersionTLS13 = tlspolicy.VersionTLS13
)

// AllVersions lists the protocol versions a scan probes, oldest first.
var AllVersions = []uint16{VersionSSL20, VersionSSL30, VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13}

// VersionName returns the human name of a protocol version ("TLS 1.2").
func VersionName(v uint16) string { return tlspolicy.VersionName(v) }

// Result is everything one scan of one target found. It is the document
// that --json prints.
type Result struct {
	SchemaVersion int       `json:"schema_version"`
	Target        string    `json:"target"`
	Host          string    `json:"host"`
	Port          string    `json:"port"`
	Address       string    `json:"address,omitempty"`
	ServerName    string    `json:"server_name,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	DurationMS    int64     `json:"duration_ms"`
	// Error is set when the target could not be scanned at all (no TCP
	// connection, no TLS); the other fields are then mostly empty.
	Error string `json:"error,omitempty"`

	Protocols []ProtocolResult `json:"protocols"`
	// Groups are the key-exchange groups the server accepts, in the order
	// the server prefers when it has a preference.
	Groups []Group `json:"groups,omitempty"`
	// DHBits is the size of the smallest finite-field DH prime the server
	// used (DHE suites), 0 when it never used one.
	DHBits int `json:"dh_bits,omitempty"`
	// SignatureSchemes the server signs its key exchange with (TLS 1.2/1.3).
	SignatureSchemes []string `json:"signature_schemes,omitempty"`

	FallbackSCSV        *bool      `json:"fallback_scsv,omitempty"`
	SecureRenegotiation *bool      `json:"secure_renegotiation,omitempty"`
	Compression         []string   `json:"compression,omitempty"`
	Resumption          Resumption `json:"resumption"`
	ALPN                []string   `json:"alpn,omitempty"`
	OCSPStapled         bool       `json:"ocsp_stapled"`
	// ClientCertificateRequested is true when the server asks for a client
	// certificate in a TLS 1.2 or earlier handshake (mutual TLS).
	ClientCertificateRequested bool  `json:"client_certificate_requested,omitempty"`
	Heartbeat                  *bool `json:"heartbeat,omitempty"`

	Certificate *CertificateResult `json:"certificate,omitempty"`
	HTTP        *HTTPResult        `json:"http,omitempty"`

	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	Rating          *Rating         `json:"rating,omitempty"`
	// Notes are probe problems that did not stop the scan (a probe that
	// timed out, an answer that could not be decoded).
	Notes []string `json:"notes,omitempty"`
}

// ProtocolResult says whether one protocol version is accepted and which
// cipher suites the server accepts with it.
type ProtocolResult struct {
	Version   uint16  `json:"version"`
	Name      string  `json:"name"`
	Supported bool    `json:"supported"`
	Suites    []Suite `json:"suites,omitempty"`
	// ServerPreference is true when the server picks the suite by its own
	// order rather than the client's; Suites are then in server order.
	ServerPreference *bool `json:"server_preference,omitempty"`
}

// Suite is one cipher suite a server accepted, with the properties the
// rating and the vulnerability checks need.
type Suite struct {
	ID          uint16 `json:"id"`
	Name        string `json:"name"`
	KeyExchange string `json:"key_exchange"` // RSA, DHE, ECDHE, DH, ECDH, PSK, anon, TLS13, SSL2...
	Cipher      string `json:"cipher"`
	// Bits is the effective symmetric strength (3DES counts 112); KeyBits
	// is the nominal key length (3DES: 168), which the rating guide scores.
	Bits      int  `json:"bits"`
	KeyBits   int  `json:"key_bits"`
	BlockBits int  `json:"block_bits,omitempty"` // 64 for DES/3DES/IDEA/RC2
	AEAD      bool `json:"aead"`
	CBC       bool `json:"cbc,omitempty"`
	FS        bool `json:"forward_secrecy"`
	Export    bool `json:"export,omitempty"`
	Anonymous bool `json:"anonymous,omitempty"`
	RC4       bool `json:"rc4,omitempty"`
	Null      bool `json:"null,omitempty"`
	// KeyExchangeBits is the size of the ephemeral key the server sent for
	// this suite: the DH prime or the curve, 0 when not observed.
	KeyExchangeBits int    `json:"key_exchange_bits,omitempty"`
	Group           string `json:"group,omitempty"`
}

// Group is a key-exchange group (named curve, finite-field group or hybrid).
type Group struct {
	ID   uint16 `json:"id"`
	Name string `json:"name"`
	Bits int    `json:"bits"`
	// Versions says with which protocol versions the group was accepted.
	Versions []string `json:"versions,omitempty"`
}

// Resumption says which session resumption mechanisms really resumed.
type Resumption struct {
	// SessionID says whether a TLS 1.2 session resumed by its ID; absent
	// when it could not be tested (no TLS 1.2, or no crypto/tls handshake).
	SessionID *bool `json:"session_id,omitempty"`
	Tickets   bool  `json:"tickets"`
}

// CertificateResult is the server's certificate chain as sent, and the
// verdict on it.
type CertificateResult struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	SANs               []string  `json:"sans,omitempty"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DaysLeft           int       `json:"days_left"`
	KeyType            string    `json:"key_type"` // RSA, ECDSA, Ed25519
	KeyBits            int       `json:"key_bits"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	SCTs               int       `json:"scts"`
	ChainLength        int       `json:"chain_length"`
	// Trusted is the verdict of verification against the system roots or
	// --ca; TrustProblem says why not.
	Trusted      bool   `json:"trusted"`
	TrustProblem string `json:"trust_problem,omitempty"`
	NameMatches  bool   `json:"name_matches"`
	Expired      bool   `json:"expired"`
	SelfSigned   bool   `json:"self_signed"`
	// ChainComplete is false when the server omits an intermediate the leaf
	// needs; ChainInOrder is false when the chain is sent out of order.
	ChainComplete bool `json:"chain_complete"`
	ChainInOrder  bool `json:"chain_in_order"`
	// Chain lists every certificate as sent, leaf first.
	Chain []ChainCert `json:"chain,omitempty"`
}

// ChainCert is one certificate as the server sent it.
type ChainCert struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	NotAfter           time.Time `json:"not_after"`
	KeyType            string    `json:"key_type"`
	KeyBits            int       `json:"key_bits"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	SHA256             string    `json:"sha256"`
}

// HTTPResult is what plain HTTP requests over the TLS connection and to port
// 80 showed.
type HTTPResult struct {
	Status int `json:"status,omitempty"`
	// HSTS is the raw Strict-Transport-Security header, empty when absent.
	HSTS           string `json:"hsts,omitempty"`
	HSTSMaxAge     int64  `json:"hsts_max_age"`
	HSTSSubdomains bool   `json:"hsts_include_subdomains,omitempty"`
	HSTSPreload    bool   `json:"hsts_preload,omitempty"`
	Port80         string `json:"port80"` // redirect-https, redirect-other, plain-http, closed, not-checked
	Port80Location string `json:"port80_location,omitempty"`
	Error          string `json:"error,omitempty"`
}

// Vulnerability status values.
const (
	StatusVulnerable    = "vulnerable"
	StatusNotVulnerable = "not_vulnerable"
	StatusUnknown       = "unknown"
)

// Vulnerability is one known attack and whether the server is exposed, with
// the evidence the decision rests on.
type Vulnerability struct {
	ID       string   `json:"id"` // poodle, beast, sweet32, freak, logjam, drown, rc4, crime, heartbleed, ccs_injection, insecure_renegotiation
	Name     string   `json:"name"`
	CVE      []string `json:"cve,omitempty"`
	Status   string   `json:"status"`
	Evidence string   `json:"evidence"`
}

// Supported reports whether the server accepted protocol version v.
func (r *Result) Supported(v uint16) bool {
	if p := r.Protocol(v); p != nil {
		return p.Supported
	}
	return false
}

// Protocol returns the result for version v, nil when it was not probed.
func (r *Result) Protocol(v uint16) *ProtocolResult {
	for i := range r.Protocols {
		if r.Protocols[i].Version == v {
			return &r.Protocols[i]
		}
	}
	return nil
}

// SuitesWhere returns every (protocol, suite) pair the server accepted for
// which keep is true.
func (r *Result) SuitesWhere(keep func(v uint16, s Suite) bool) []VersionedSuite {
	var out []VersionedSuite
	for _, p := range r.Protocols {
		if !p.Supported {
			continue
		}
		for _, s := range p.Suites {
			if keep(p.Version, s) {
				out = append(out, VersionedSuite{Version: p.Version, Suite: s})
			}
		}
	}
	return out
}

// VersionedSuite is a suite together with the protocol it was accepted on.
type VersionedSuite struct {
	Version uint16
	Suite   Suite
}

// Vulnerability returns the finding with the given id, nil when absent.
func (r *Result) Vulnerability(id string) *Vulnerability {
	for i := range r.Vulnerabilities {
		if r.Vulnerabilities[i].ID == id {
			return &r.Vulnerabilities[i]
		}
	}
	return nil
}

// Document is the top level of the --json output: one result per target.
type Document struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          string    `json:"tool"`
	Results       []*Result `json:"results"`
}
