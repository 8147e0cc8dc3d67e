package wire

import "fmt"

// AlertLevel is an alert's severity.
type AlertLevel uint8

// Alert levels.
const (
	AlertWarning AlertLevel = 1
	AlertFatal   AlertLevel = 2
)

func (l AlertLevel) String() string {
	switch l {
	case AlertWarning:
		return "warning"
	case AlertFatal:
		return "fatal"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// AlertDescription says why an alert was sent (IANA "TLS Alerts").
type AlertDescription uint8

// Alert descriptions a scanner or inspector commonly meets.
const (
	AlertCloseNotify                  AlertDescription = 0
	AlertUnexpectedMessage            AlertDescription = 10
	AlertBadRecordMAC                 AlertDescription = 20
	AlertDecryptionFailed             AlertDescription = 21
	AlertRecordOverflow               AlertDescription = 22
	AlertDecompressionFailure         AlertDescription = 30
	AlertHandshakeFailure             AlertDescription = 40
	AlertNoCertificate                AlertDescription = 41
	AlertBadCertificate               AlertDescription = 42
	AlertUnsupportedCertificate       AlertDescription = 43
	AlertCertificateRevoked           AlertDescription = 44
	AlertCertificateExpired           AlertDescription = 45
	AlertCertificateUnknown           AlertDescription = 46
	AlertIllegalParameter             AlertDescription = 47
	AlertUnknownCA                    AlertDescription = 48
	AlertAccessDenied                 AlertDescription = 49
	AlertDecodeError                  AlertDescription = 50
	AlertDecryptError                 AlertDescription = 51
	AlertExportRestriction            AlertDescription = 60
	AlertProtocolVersion              AlertDescription = 70
	AlertInsufficientSecurity         AlertDescription = 71
	AlertInternalError                AlertDescription = 80
	AlertInappropriateFallback        AlertDescription = 86
	AlertUserCanceled                 AlertDescription = 90
	AlertNoRenegotiation              AlertDescription = 100
	AlertMissingExtension             AlertDescription = 109
	AlertUnsupportedExtension         AlertDescription = 110
	AlertCertificateUnobtainable      AlertDescription = 111
	AlertUnrecognizedName             AlertDescription = 112
	AlertBadCertificateStatusResponse AlertDescription = 113
	AlertBadCertificateHashValue      AlertDescription = 114
	AlertUnknownPSKIdentity           AlertDescription = 115
	AlertCertificateRequired          AlertDescription = 116
	AlertNoApplicationProtocol        AlertDescription = 120
	AlertECHRequired                  AlertDescription = 121
)

var alertNames = map[AlertDescription]string{
	AlertCloseNotify:                  "close_notify",
	AlertUnexpectedMessage:            "unexpected_message",
	AlertBadRecordMAC:                 "bad_record_mac",
	AlertDecryptionFailed:             "decryption_failed",
	AlertRecordOverflow:               "record_overflow",
	AlertDecompressionFailure:         "decompression_failure",
	AlertHandshakeFailure:             "handshake_failure",
	AlertNoCertificate:                "no_certificate",
	AlertBadCertificate:               "bad_certificate",
	AlertUnsupportedCertificate:       "unsupported_certificate",
	AlertCertificateRevoked:           "certificate_revoked",
	AlertCertificateExpired:           "certificate_expired",
	AlertCertificateUnknown:           "certificate_unknown",
	AlertIllegalParameter:             "illegal_parameter",
	AlertUnknownCA:                    "unknown_ca",
	AlertAccessDenied:                 "access_denied",
	AlertDecodeError:                  "decode_error",
	AlertDecryptError:                 "decrypt_error",
	AlertExportRestriction:            "export_restriction",
	AlertProtocolVersion:              "protocol_version",
	AlertInsufficientSecurity:         "insufficient_security",
	AlertInternalError:                "internal_error",
	AlertInappropriateFallback:        "inappropriate_fallback",
	AlertUserCanceled:                 "user_canceled",
	AlertNoRenegotiation:              "no_renegotiation",
	AlertMissingExtension:             "missing_extension",
	AlertUnsupportedExtension:         "unsupported_extension",
	AlertCertificateUnobtainable:      "certificate_unobtainable",
	AlertUnrecognizedName:             "unrecognized_name",
	AlertBadCertificateStatusResponse: "bad_certificate_status_response",
	AlertBadCertificateHashValue:      "bad_certificate_hash_value",
	AlertUnknownPSKIdentity:           "unknown_psk_identity",
	AlertCertificateRequired:          "certificate_required",
	AlertNoApplicationProtocol:        "no_application_protocol",
	AlertECHRequired:                  "ech_required",
}

func (d AlertDescription) String() string {
	if s, ok := alertNames[d]; ok {
		return s
	}
	return fmt.Sprintf("alert(%d)", uint8(d))
}

// Alert is the two-byte body of an alert record (cleartext before
// encryption starts, which is when servers refuse a hello).
type Alert struct {
	Level       AlertLevel
	Description AlertDescription
}

func (a Alert) String() string { return a.Level.String() + " " + a.Description.String() }

// Marshal encodes the alert body.
func (a Alert) Marshal() []byte { return []byte{byte(a.Level), byte(a.Description)} }

// Record encodes the alert as a record of the given version.
func (a Alert) Record(version uint16) []byte {
	r := Record{Type: TypeAlert, Version: version, Fragment: a.Marshal()}
	b, _ := r.Marshal()
	return b
}

// ParseAlert decodes an alert record's fragment.
func ParseAlert(fragment []byte) (Alert, error) {
	if len(fragment) != 2 {
		return Alert{}, fmt.Errorf("wire: alert of %d bytes, want 2 (an encrypted alert cannot be decoded)", len(fragment))
	}
	return Alert{Level: AlertLevel(fragment[0]), Description: AlertDescription(fragment[1])}, nil
}

// ChangeCipherSpecRecord encodes a change_cipher_spec record.
func ChangeCipherSpecRecord(version uint16) []byte {
	return []byte{byte(TypeChangeCipherSpec), byte(version >> 8), byte(version), 0, 1, 1}
}

// ParseChangeCipherSpec checks a change_cipher_spec record's fragment: the
// single byte 1.
func ParseChangeCipherSpec(fragment []byte) error {
	if len(fragment) != 1 || fragment[0] != 1 {
		return fmt.Errorf("wire: malformed change_cipher_spec % x", fragment)
	}
	return nil
}
