package authz

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind names what part of an identity a rule looks at.
type Kind string

// The rule kinds, as written before the colon in a rule string.
const (
	KindDNS         Kind = "dns"         // a DNS SAN: exact, or "*.domain" for one label
	KindURI         Kind = "uri"         // a URI SAN: SPIFFE ID pattern, or another absolute URI exactly
	KindEmail       Kind = "email"       // an email SAN: "user@domain" or "*@domain"
	KindCN          Kind = "cn"          // the subject common name, exactly
	KindFingerprint Kind = "fingerprint" // SHA-256 of the certificate, hex with or without colons
	KindSPKI        Kind = "spki"        // SHA-256 of the public key: hex, or sha256/BASE64
	KindAny         Kind = "any"         // any verified client certificate
)

var kinds = []Kind{KindDNS, KindURI, KindEmail, KindCN, KindFingerprint, KindSPKI, KindAny}

// RuleError says why a rule string was rejected. Callers that know where the
// string came from (a flag, a file and line) add that in front.
type RuleError struct {
	Input string // the rule string as given
	Kind  Kind   // the kind, when it was recognised
	Err   error
}

func (e *RuleError) Error() string { return fmt.Sprintf("rule %q: %v", e.Input, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// Rule is one allow rule. The zero Rule matches nothing.
type Rule struct {
	Kind    Kind
	Pattern string // normalised: lowercase host names and hex, as String prints it

	match func(*Identity) bool
}

// String returns the rule in the form ParseRule reads: "kind:pattern", or
// "any".
func (r Rule) String() string {
	if r.Kind == KindAny {
		return string(KindAny)
	}
	return string(r.Kind) + ":" + r.Pattern
}

// Match reports whether a verified identity satisfies the rule.
func (r Rule) Match(id *Identity) bool {
	if id == nil || r.match == nil {
		return false
	}
	return r.match(id)
}

// ParseRule reads a rule as written in flags and configuration files:
//
//	uri:spiffe://corp.test/billing
//	uri:spiffe://corp.test/ns/*/sa/**
//	dns:*.corp.test
//	email:*@corp.test
//	cn:billing
//	fingerprint:3f9a...        (64 hex digits, colons optional)
//	spki:sha256/BASE64 or spki:HEX
//	any
func ParseRule(s string) (Rule, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == string(KindAny) {
		return Rule{Kind: KindAny, match: func(*Identity) bool { return true }}, nil
	}
	k, pattern, ok := strings.Cut(s, ":")
	if !ok {
		return Rule{}, &RuleError{Input: in, Err: fmt.Errorf("missing kind; write KIND:PATTERN with KIND one of %s, e.g. dns:api.corp.test or uri:spiffe://corp.test/billing", kindList())}
	}
	kind := Kind(strings.ToLower(k))
	if !knownKind(kind) {
		return Rule{}, &RuleError{Input: in, Err: fmt.Errorf("unknown kind %q; expected one of %s", k, kindList())}
	}
	r, err := NewRule(kind, pattern)
	if err != nil {
		return Rule{}, &RuleError{Input: in, Kind: kind, Err: err}
	}
	return r, nil
}

// NewRule builds a rule of a known kind from its pattern, as a flag such as
// --allow-uri gives it.
func NewRule(kind Kind, pattern string) (Rule, error) {
	if kind == KindAny {
		if pattern != "" {
			return Rule{}, fmt.Errorf(`"any" takes no pattern`)
		}
		return ParseRule(string(KindAny))
	}
	if pattern == "" {
		return Rule{}, fmt.Errorf("empty %s pattern", kind)
	}
	if !utf8.ValidString(pattern) {
		return Rule{}, fmt.Errorf("%s pattern is not valid UTF-8", kind)
	}
	if i := strings.IndexFunc(pattern, unicode.IsControl); i >= 0 {
		return Rule{}, fmt.Errorf("%s pattern %q holds a control character at byte %d", kind, pattern, i)
	}
	// A common name may hold spaces ("Billing Service"); no other kind can.
	if i := strings.IndexFunc(pattern, unicode.IsSpace); i >= 0 && kind != KindCN {
		return Rule{}, fmt.Errorf("%s pattern %q holds a space at byte %d", kind, pattern, i)
	}
	switch kind {
	case KindDNS:
		return newDNSRule(pattern)
	case KindURI:
		return newURIRule(pattern)
	case KindEmail:
		return newEmailRule(pattern)
	case KindCN:
		return Rule{Kind: KindCN, Pattern: pattern, match: func(id *Identity) bool { return id.CommonName == pattern }}, nil
	case KindFingerprint:
		fp, err := parseSHA256Hex(pattern)
		if err != nil {
			return Rule{}, fmt.Errorf("certificate fingerprint: %w", err)
		}
		return Rule{Kind: KindFingerprint, Pattern: fp, match: func(id *Identity) bool { return id.Fingerprint == fp }}, nil
	case KindSPKI:
		fp, err := ParseSPKIFingerprint(pattern)
		if err != nil {
			return Rule{}, err
		}
		return Rule{Kind: KindSPKI, Pattern: fp, match: func(id *Identity) bool { return id.SPKIFingerprint == fp }}, nil
	}
	return Rule{}, fmt.Errorf("unknown kind %q; expected one of %s", kind, kindList())
}

func newDNSRule(pattern string) (Rule, error) {
	p, err := parseDNSPattern(pattern)
	if err != nil {
		return Rule{}, fmt.Errorf("DNS pattern %q: %w", pattern, err)
	}
	return Rule{Kind: KindDNS, Pattern: p.String(), match: func(id *Identity) bool {
		for _, n := range id.DNSNames {
			if p.match(n) {
				return true
			}
		}
		return false
	}}, nil
}

func newURIRule(pattern string) (Rule, error) {
	if strings.HasPrefix(strings.ToLower(pattern), "spiffe:") {
		p, err := parseSPIFFEID(pattern, true)
		if err != nil {
			return Rule{}, err
		}
		return Rule{Kind: KindURI, Pattern: p.String(), match: func(id *Identity) bool {
			for _, u := range id.URIs {
				if sid, err := parseSPIFFEID(u, false); err == nil && p.match(sid) {
					return true
				}
			}
			return false
		}}, nil
	}
	u, err := url.Parse(pattern)
	if err != nil {
		return Rule{}, fmt.Errorf("URI pattern %q does not parse: %w", pattern, err)
	}
	if u.Scheme == "" {
		return Rule{}, fmt.Errorf("URI pattern %q has no scheme; write an absolute URI such as spiffe://corp.test/billing", pattern)
	}
	if strings.Contains(pattern, "*") {
		return Rule{}, fmt.Errorf("URI pattern %q: wildcards are supported only in spiffe:// IDs; other URIs match exactly", pattern)
	}
	return Rule{Kind: KindURI, Pattern: pattern, match: func(id *Identity) bool {
		for _, s := range id.URIs {
			if s == pattern {
				return true
			}
		}
		return false
	}}, nil
}

func newEmailRule(pattern string) (Rule, error) {
	local, domain, ok := cutLast(pattern, "@")
	if !ok || local == "" {
		return Rule{}, fmt.Errorf("email pattern %q: write USER@DOMAIN or *@DOMAIN", pattern)
	}
	if strings.Contains(local, "@") {
		return Rule{}, fmt.Errorf("email pattern %q holds more than one '@'", pattern)
	}
	if len(local) > 64 {
		return Rule{}, fmt.Errorf("email pattern %q: local part is %d bytes long; the limit is 64", pattern, len(local))
	}
	if local != "*" && strings.Contains(local, "*") {
		return Rule{}, fmt.Errorf(`email pattern %q: "*" must be the whole local part, as in *@corp.test`, pattern)
	}
	dp, err := parseDNSPattern(domain)
	if err != nil {
		return Rule{}, fmt.Errorf("email pattern %q: domain: %w", pattern, err)
	}
	return Rule{Kind: KindEmail, Pattern: local + "@" + dp.String(), match: func(id *Identity) bool {
		for _, e := range id.Emails {
			l, d, ok := cutLast(e, "@")
			if !ok || l == "" || strings.Contains(l, "@") {
				continue
			}
			if (local == "*" || l == local) && dp.match(d) {
				return true
			}
		}
		return false
	}}, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// parseSHA256Hex reads a SHA-256 digest written as 64 hex digits, either
// plain or as 32 colon-separated pairs, and returns it as lowercase hex.
func parseSHA256Hex(s string) (string, error) {
	h := s
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		for _, p := range parts {
			if len(p) != 2 {
				return "", fmt.Errorf("%q: with colons, write 32 pairs of hex digits (AB:CD:...)", s)
			}
		}
		h = strings.Join(parts, "")
	}
	if len(h) != 64 {
		return "", fmt.Errorf("%q has %d hex digits; a SHA-256 digest has 64", s, len(h))
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%q is not hexadecimal", s)
	}
	return strings.ToLower(h), nil
}

// ParseSPKIFingerprint reads a public key fingerprint written as sha256/BASE64
// (the pin form) or as SHA-256 hex, and returns lowercase hex.
func ParseSPKIFingerprint(s string) (string, error) {
	if b64, ok := strings.CutPrefix(s, "sha256/"); ok {
		b, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(b) != 32 {
			return "", fmt.Errorf("SPKI pin %q: want sha256/ followed by the standard base64 of 32 bytes (44 characters)", s)
		}
		return hex.EncodeToString(b), nil
	}
	h, err := parseSHA256Hex(s)
	if err != nil {
		return "", fmt.Errorf("SPKI fingerprint: %w; or write sha256/BASE64", err)
	}
	return h, nil
}

func knownKind(k Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// MarshalText writes the rule as ParseRule reads it, so rules round-trip
// through YAML and JSON configuration.
func (r Rule) MarshalText() ([]byte, error) {
	if r.match == nil {
		return nil, fmt.Errorf("rule %q was not built by ParseRule or NewRule", r.String())
	}
	return []byte(r.String()), nil
}

// UnmarshalText parses a rule with ParseRule, so configuration decoders
// (go.yaml.in/yaml/v3, encoding/json) can read rules directly.
func (r *Rule) UnmarshalText(b []byte) error {
	p, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
