package authz

import (
	"strings"
	"testing"
)

// FuzzParseRule feeds arbitrary rule strings to the parser: it must never
// panic, and any rule it accepts must print back to a string that parses to
// the same rule.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"uri:spiffe://corp.test/billing", "uri:spiffe://corp.test/ns/*/sa/**", "dns:*.corp.test",
		"email:*@corp.test", "cn:Billing Service", "any", "fingerprint:" + strings.Repeat("ab", 32),
		"spki:sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "uri:spiffe://corp.test/../x", "dns:*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			if r.Match(identity()) {
				t.Fatalf("rejected rule %q matches", s)
			}
			return
		}
		r2, err := ParseRule(r.String())
		if err != nil {
			t.Fatalf("ParseRule(%q) = %q, which does not parse: %v", s, r, err)
		}
		if r2.String() != r.String() {
			t.Fatalf("ParseRule(%q) = %q, reparsed as %q", s, r, r2)
		}
		id := identity()
		if r.Match(id) != r2.Match(id) {
			t.Fatalf("%q and its reparsed form disagree", s)
		}
	})
}

// FuzzMatchPattern matches arbitrary certificate names against arbitrary
// patterns. Beyond never panicking: a pattern without wildcards that matches
// a name is that name (up to case for host names), and a SPIFFE pattern only
// ever matches valid SPIFFE IDs of its own trust domain.
func FuzzMatchPattern(f *testing.F) {
	f.Add("spiffe://corp.test/ns/*/sa/**", "spiffe://corp.test/ns/prod/sa/billing")
	f.Add("*.corp.test", "api.corp.test")
	f.Add("spiffe://corp.test", "spiffe://corp.test/")
	f.Add("*@corp.test", "ops@corp.test")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		id := &Identity{DNSNames: []string{name}, URIs: []string{name}, Emails: []string{name}}
		for _, kind := range []Kind{KindDNS, KindURI, KindEmail} {
			r, err := NewRule(kind, pattern)
			if err != nil || !r.Match(id) {
				continue
			}
			if !strings.Contains(pattern, "*") {
				if kind == KindURI && name != r.Pattern {
					t.Fatalf("uri:%q matched %q", pattern, name)
				}
				if kind == KindDNS && !strings.EqualFold(strings.TrimSuffix(name, "."), r.Pattern) {
					t.Fatalf("dns:%q matched %q", pattern, name)
				}
			}
			if kind == KindURI && strings.HasPrefix(r.Pattern, "spiffe://") {
				sid, err := parseSPIFFEID(name, false)
				if err != nil {
					t.Fatalf("uri:%q matched invalid SPIFFE ID %q: %v", pattern, name, err)
				}
				p, _ := parseSPIFFEID(r.Pattern, true)
				if sid.trustDomain != p.trustDomain {
					t.Fatalf("uri:%q matched %q in another trust domain", pattern, name)
				}
			}
		}
	})
}
