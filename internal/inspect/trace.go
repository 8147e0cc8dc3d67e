package inspect

import "time"

// SchemaVersion is the version of the JSON form of a Trace (docs/inspect.md).
// It changes only when a field changes meaning or disappears; new fields may
// appear without a change.
const SchemaVersion = 1

// Trace is everything inspect learned about one connection or one
// certificate chain. Its JSON form is the documented --json output.
type Trace struct {
	SchemaVersion int       `json:"schema_version"`
	Mode          string    `json:"mode"` // "tls", "http" or "offline"
	Target        *Target   `json:"target,omitempty"`
	StartedAt     time.Time `json:"started_at"`

	ClientHello       *ClientHelloInfo  `json:"client_hello,omitempty"`
	HelloRetryRequest *HelloRetryInfo   `json:"hello_retry_request,omitempty"`
	ServerHello       *ServerHelloInfo  `json:"server_hello,omitempty"`
	Certificates      *CertificatesInfo `json:"certificates,omitempty"`
	Verification      *VerificationInfo `json:"verification,omitempty"`
	ClientAuth        *ClientAuthInfo   `json:"client_auth,omitempty"`
	KeyExchange       *KeyExchangeInfo  `json:"key_exchange,omitempty"`
	Finished          *FinishedInfo     `json:"finished,omitempty"`
	HTTP              *HTTPInfo         `json:"http,omitempty"`
	// Records lists every record (TLS) or every chunk (plain HTTP) in the
	// order it crossed the wire.
	Records []RecordInfo `json:"records"`
	// RecordingTruncated is set when the connection moved more bytes than
	// inspect keeps.
	RecordingTruncated bool `json:"recording_truncated,omitempty"`
	// Error is why the connection failed, when it did.
	Error string `json:"error,omitempty"`
}

// Target is what was inspected.
type Target struct {
	Input      string `json:"input"`
	Scheme     string `json:"scheme"` // "https" or "http"
	Host       string `json:"host"`
	Port       string `json:"port"`
	Path       string `json:"path"`
	Address    string `json:"address,omitempty"`     // the remote IP:port connected to
	ServerName string `json:"server_name,omitempty"` // SNI sent, "" for none
}

// Code is a protocol code point with its name.
type Code struct {
	ID   uint16 `json:"id"`
	Name string `json:"name"`
}

// Group is a key-exchange group.
type Group struct {
	ID   uint16 `json:"id"`
	Name string `json:"name"`
	// PostQuantumHybrid: a classical curve combined with ML-KEM, which
	// protects recorded traffic against a future quantum computer.
	PostQuantumHybrid bool `json:"post_quantum_hybrid"`
}

// ExtensionInfo is one hello extension as sent.
type ExtensionInfo struct {
	ID     uint16 `json:"id"`
	Name   string `json:"name"`
	Length int    `json:"length"`
}

// ClientHelloInfo is step 1.
type ClientHelloInfo struct {
	LegacyVersion       string          `json:"legacy_version"`
	Versions            []string        `json:"versions"`
	Random              string          `json:"random"` // hex
	SessionID           string          `json:"session_id"`
	CipherSuites        []Code          `json:"cipher_suites"`
	Groups              []Group         `json:"groups"`
	KeyShares           []Group         `json:"key_shares"`
	SignatureAlgorithms []Code          `json:"signature_algorithms"`
	ServerName          string          `json:"server_name"`
	ALPN                []string        `json:"alpn"`
	Extensions          []ExtensionInfo `json:"extensions"`
	// Retried is the second ClientHello, sent after a HelloRetryRequest.
	Retried bool `json:"retried,omitempty"`
}

// HelloRetryInfo is a TLS 1.3 server asking for another ClientHello.
type HelloRetryInfo struct {
	CipherSuite Code   `json:"cipher_suite"`
	Group       *Group `json:"group,omitempty"` // the group it wants a key share for
	// FirstKeyShares are the shares of the first ClientHello, which the
	// server did not take.
	FirstKeyShares []Group `json:"first_key_shares"`
}

// ServerHelloInfo is step 2.
type ServerHelloInfo struct {
	Version     string          `json:"version"`
	Random      string          `json:"random"`
	SessionID   string          `json:"session_id"`
	CipherSuite Code            `json:"cipher_suite"`
	Group       *Group          `json:"group,omitempty"`
	ALPN        string          `json:"alpn,omitempty"`
	Resumed     bool            `json:"resumed"`
	Extensions  []ExtensionInfo `json:"extensions"`
	// Downgrade is set when the server's random carries the TLS 1.3
	// downgrade sentinel: it speaks 1.3 but negotiated less.
	Downgrade string `json:"downgrade_sentinel,omitempty"`
}

// CertificatesInfo is step 3.
type CertificatesInfo struct {
	// TravelledEncrypted: in TLS 1.3 the Certificate message is encrypted,
	// so the chain below comes from the connection, not from the wire.
	TravelledEncrypted bool `json:"travelled_encrypted"`
	// DecodedFromWire: the chain was read from the cleartext Certificate
	// message on the wire (TLS 1.2).
	DecodedFromWire bool       `json:"decoded_from_wire"`
	Chain           []CertInfo `json:"chain"`
	// SCTs delivered in the TLS extension (embedded ones are per certificate).
	SCTs []SCTInfo `json:"scts"`
	OCSP *OCSPInfo `json:"ocsp,omitempty"`
}

// CertInfo describes one certificate as presented.
type CertInfo struct {
	Position           int       `json:"position"` // 0 is the leaf
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	DNSNames           []string  `json:"dns_names"`
	IPAddresses        []string  `json:"ip_addresses"`
	URIs               []string  `json:"uris,omitempty"`
	Emails             []string  `json:"emails,omitempty"`
	SerialNumber       string    `json:"serial_number"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DaysLeft           int       `json:"days_left"`
	KeyType            string    `json:"key_type"`
	KeyBits            int       `json:"key_bits"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	SHA256             string    `json:"sha256"`
	IsCA               bool      `json:"is_ca"`
	SCTs               []SCTInfo `json:"scts"` // embedded in the certificate
}

// SCTInfo is one signed certificate timestamp: a promise by a Certificate
// Transparency log that the certificate is public.
type SCTInfo struct {
	LogID     string    `json:"log_id"` // base64, as logs are listed
	Timestamp time.Time `json:"timestamp"`
}

// OCSPInfo is the stapled OCSP response.
type OCSPInfo struct {
	Stapled    bool       `json:"stapled"`
	Status     string     `json:"status,omitempty"` // good, revoked, unknown
	ProducedAt *time.Time `json:"produced_at,omitempty"`
	NextUpdate *time.Time `json:"next_update,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// VerificationInfo is step 4.
type VerificationInfo struct {
	Verified bool      `json:"verified"`
	Roots    string    `json:"roots"` // "system" or the --ca file
	Name     string    `json:"name"`  // the host name checked, "" for none
	At       time.Time `json:"at"`
	// Reason says exactly why verification failed, and what to do.
	Reason string `json:"reason,omitempty"`
	// Code is certcheck's stable name of the failure (expired,
	// hostname_mismatch, ...).
	Code string `json:"code,omitempty"`
	// VerifiedChain is the path from the leaf to a trusted root.
	VerifiedChain []string `json:"verified_chain,omitempty"`
	// Warnings are problems that do not fail verification (expiring soon,
	// revocation status unknown).
	Warnings []string `json:"warnings,omitempty"`
}

// ClientAuthInfo is present when the server asked for a client certificate
// (mutual TLS).
type ClientAuthInfo struct {
	Requested     bool     `json:"requested"`
	AcceptableCAs []string `json:"acceptable_cas"`
	// Sent is the subject of the certificate sent, "" when none was.
	Sent string `json:"sent"`
	// Refused is the server's refusal, when it refused.
	Refused string `json:"refused,omitempty"`
}

// KeyExchangeInfo is step 5.
type KeyExchangeInfo struct {
	Method         string `json:"method"` // ECDHE, DHE, RSA
	Group          *Group `json:"group,omitempty"`
	ForwardSecrecy bool   `json:"forward_secrecy"`
	Explanation    string `json:"explanation"`
	// From a TLS 1.2 ServerKeyExchange:
	ServerSignature *Code `json:"server_signature,omitempty"`
	DHPrimeBits     int   `json:"dh_prime_bits,omitempty"`
	ServerShareLen  int   `json:"server_share_bytes,omitempty"`
	ClientShareLen  int   `json:"client_share_bytes,omitempty"`
}

// FinishedInfo is steps 6 and 7: from where on traffic is encrypted, and
// what the handshake cost.
type FinishedInfo struct {
	// ClientEncryptedFrom and ServerEncryptedFrom are the Index of the first
	// encrypted record in each direction (0: none seen).
	ClientEncryptedFrom int     `json:"client_encrypted_from_record"`
	ServerEncryptedFrom int     `json:"server_encrypted_from_record"`
	TCPConnectMillis    float64 `json:"tcp_connect_ms"`
	HandshakeMillis     float64 `json:"handshake_ms"`
	// RoundTrips counts the TLS round trips before the client could send
	// application data (1 for TLS 1.3, 2 for TLS 1.2, plus a retry).
	RoundTrips int `json:"round_trips"`
}

// RecordInfo is one record as an eavesdropper sees it.
type RecordInfo struct {
	Index       int     `json:"index"` // from 1, both directions in time order
	Direction   string  `json:"direction"`
	AtMillis    float64 `json:"at_ms"`
	ContentType string  `json:"content_type"`
	Version     string  `json:"version,omitempty"`
	Length      int     `json:"length"`
	Encrypted   bool    `json:"encrypted"`
	// Messages names the handshake messages that start in this record, or
	// the alert it carries.
	Messages []string `json:"messages,omitempty"`
	Note     string   `json:"note,omitempty"`
	Hex      string   `json:"hex"`   // first bytes of the fragment (plain HTTP: of the chunk)
	ASCII    string   `json:"ascii"` // the same, printable bytes only
}

// HTTPInfo is the HTTP exchange (--request, or an http:// target).
type HTTPInfo struct {
	Sent             bool                `json:"sent"`
	NotSentReason    string              `json:"not_sent_reason,omitempty"`
	Request          string              `json:"request,omitempty"`
	Status           int                 `json:"status,omitempty"`
	StatusLine       string              `json:"status_line,omitempty"`
	Headers          map[string][]string `json:"headers,omitempty"`
	HSTS             string              `json:"hsts,omitempty"`
	Location         string              `json:"location,omitempty"`
	RedirectsToHTTPS bool                `json:"redirects_to_https"`
	BodyExcerpt      string              `json:"body_excerpt,omitempty"`
	// ReadableOnWire: the exchange went in clear (http://).
	ReadableOnWire bool `json:"readable_on_wire"`
}
