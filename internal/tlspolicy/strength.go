// Package tlspolicy is the one place in tlsgate that knows TLS protocol
// versions, cipher suites, named groups and signature schemes by name, code
// point and strength, and the serving profiles built from them (modern,
// intermediate, old). Everything else asks it; nothing else keeps a copy.
package tlspolicy

import "fmt"

// Strength classifies a protocol parameter for reports and ratings. Higher
// is better; the zero value means "not applicable or unknown".
type Strength int

const (
	StrengthUnknown Strength = iota
	// Insecure: broken or offering no protection (NULL, export, RC4, DES,
	// anonymous key exchange, SSL, MD5/SHA-1 signatures). Never allow.
	Insecure
	// Weak: not broken outright, but below current guidance (no forward
	// secrecy, 64-bit blocks, TLS 1.0/1.1, 1024-bit keys). Compatibility only.
	Weak
	// Acceptable: sound but not preferred (CBC with HMAC, CCM_8, 112-bit
	// groups such as ffdhe2048).
	Acceptable
	// Strong: current best practice (AEAD with forward secrecy, TLS 1.2+).
	Strong
)

var strengthNames = [...]string{"unknown", "insecure", "weak", "acceptable", "strong"}

func (s Strength) String() string {
	if s >= 0 && int(s) < len(strengthNames) {
		return strengthNames[s]
	}
	return fmt.Sprintf("Strength(%d)", int(s))
}

// MarshalText writes the strength as its lower-case name, for JSON reports.
func (s Strength) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a strength name.
func (s *Strength) UnmarshalText(b []byte) error {
	for i, n := range strengthNames {
		if n == string(b) {
			*s = Strength(i)
			return nil
		}
	}
	return fmt.Errorf("unknown strength %q: use insecure, weak, acceptable or strong", b)
}

// IsGREASE reports whether v is one of the reserved GREASE values (RFC 8701)
// that clients send in cipher suite, group, extension and version lists to
// keep servers tolerant of unknown values: 0x0A0A, 0x1A1A, ... 0xFAFA.
func IsGREASE(v uint16) bool { return v&0x0F0F == 0x0A0A && v>>12 == (v>>4)&0xF }
