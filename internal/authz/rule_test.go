package authz

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseRuleAccepts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"uri:spiffe://corp.test/billing", "uri:spiffe://corp.test/billing"},
		{"uri:spiffe://corp.test", "uri:spiffe://corp.test"},
		{"uri:spiffe://corp.test/ns/*/sa/billing", "uri:spiffe://corp.test/ns/*/sa/billing"},
		{"uri:spiffe://corp.test/billing/**", "uri:spiffe://corp.test/billing/**"},
		{"uri:spiffe://corp.test/Billing_v2.x-y", "uri:spiffe://corp.test/Billing_v2.x-y"},
		{"URI:https://corp.test/svc", "uri:https://corp.test/svc"},
		{"uri:urn:corp:billing", "uri:urn:corp:billing"},
		{"dns:*.Corp.Test.", "dns:*.corp.test"},
		{"dns:api.corp.test", "dns:api.corp.test"},
		{"dns:_svc.corp.test", "dns:_svc.corp.test"},
		{"email:*@corp.test", "email:*@corp.test"},
		{"email:Ops@Corp.Test", "email:Ops@corp.test"},
		{"cn:Billing Service", "cn:Billing Service"},
		{"fingerprint:" + strings.Repeat("AB", 32), "fingerprint:" + strings.Repeat("ab", 32)},
		{"fingerprint:" + strings.TrimSuffix(strings.Repeat("AB:", 32), ":"), "fingerprint:" + strings.Repeat("ab", 32)},
		{"spki:sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "spki:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"any", "any"},
		{"  dns:api.corp.test ", "dns:api.corp.test"},
	} {
		r, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.in, err)
			continue
		}
		if r.String() != tc.want {
			t.Errorf("ParseRule(%q) = %q, want %q", tc.in, r, tc.want)
		}
		// The printed form reads back as the same rule.
		r2, err := ParseRule(r.String())
		if err != nil || r2.String() != r.String() {
			t.Errorf("ParseRule(%q) = %v, %v; want it to read back", r.String(), r2, err)
		}
	}
}

// TestParseRuleRejects checks that each malformed rule fails with an error
// that names what is wrong.
func TestParseRuleRejects(t *testing.T) {
	for _, tc := range []struct{ in, wantErr string }{
		{"", "missing kind"},
		{"corp.test", "missing kind"},
		{"host:corp.test", `unknown kind "host"`},
		{"dns:", "empty dns pattern"},
		{"dns:*", `"*" alone`},
		{"dns:*.test", "top-level domain"},
		{"dns:api.*.corp.test", "whole leftmost label"},
		{"dns:api*.corp.test", "whole leftmost label"},
		{"dns:corp..test", "empty label"},
		{"dns:-corp.test", "starts or ends with '-'"},
		{"dns:corp test", "holds a space"},
		{"dns:" + strings.Repeat("a", 64) + ".test", "limit is 63"},
		{"dns:co\x00rp.test", "control character"},
		{"uri:spiffe://", "no trust domain"},
		{"uri:spiffe:///billing", "no trust domain"},
		{"uri:SPIFFE://corp.test/billing", "scheme must be lowercase"},
		{"uri:spiffe://Corp.test/billing", "must be lowercase"},
		{"uri:spiffe://corp.test:8443/billing", "port"},
		{"uri:spiffe://user@corp.test/billing", "user info"},
		{"uri:spiffe://*.corp.test/billing", "not allowed in the trust domain"},
		{"uri:spiffe://corp.test/", "trailing slash"},
		{"uri:spiffe://corp.test/billing/", "empty segment"},
		{"uri:spiffe://corp.test//billing", "empty segment"},
		{"uri:spiffe://corp.test/../billing", `".." is not allowed`},
		{"uri:spiffe://corp.test/./billing", `"." is not allowed`},
		{"uri:spiffe://corp.test/bill%20ing", "percent-encoded"},
		{"uri:spiffe://corp.test/billing?x=1", "query or fragment"},
		{"uri:spiffe://corp.test/billing#x", "query or fragment"},
		{"uri:spiffe://corp.test/bill*", "whole segment"},
		{"uri:spiffe://corp.test/**/billing", "last segment"},
		{"uri:spiffe://corp.test/" + strings.Repeat("a", 2048), "limit is 2048"},
		{"uri:spiffe:corp.test", "does not start with spiffe://"},
		{"uri:corp.test/billing", "no scheme"},
		{"uri:https://corp.test/*", "wildcards are supported only in spiffe://"},
		{"email:corp.test", "USER@DOMAIN"},
		{"email:@corp.test", "USER@DOMAIN"},
		{"email:a@b@corp.test", "more than one '@'"},
		{"email:o*s@corp.test", "whole local part"},
		{"email:ops@corp..test", "empty label"},
		{"cn:", "empty cn pattern"},
		{"fingerprint:abcd", "has 4 hex digits"},
		{"fingerprint:" + strings.Repeat("zz", 32), "not hexadecimal"},
		{"fingerprint:ABC:" + strings.Repeat("AB:", 30) + "A", "32 pairs"},
		{"spki:sha256/abc", "44 characters"},
		{"any:x", "takes no pattern"},
	} {
		_, err := ParseRule(tc.in)
		if err == nil {
			t.Errorf("ParseRule(%q) succeeded; want an error containing %q", tc.in, tc.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseRule(%q) error %q; want it to contain %q", tc.in, err, tc.wantErr)
		}
		var re *RuleError
		if !errors.As(err, &re) || re.Input != tc.in {
			t.Errorf("ParseRule(%q) error %T does not name the rule", tc.in, err)
		}
	}
}

func identity() *Identity {
	return &Identity{
		Subject:         "CN=billing,O=Corp",
		CommonName:      "billing",
		DNSNames:        []string{"billing.corp.test", "*.wild.corp.test"},
		URIs:            []string{"spiffe://corp.test/ns/prod/sa/billing", "https://corp.test/svc"},
		Emails:          []string{"Ops@corp.test"},
		IPs:             []netip.Addr{netip.MustParseAddr("10.0.0.7")},
		Fingerprint:     strings.Repeat("ab", 32),
		SPKIFingerprint: strings.Repeat("cd", 32),
		Serial:          "a1b2c",
	}
}

func TestRuleMatch(t *testing.T) {
	for _, tc := range []struct {
		rule string
		want bool
	}{
		{"any", true},
		{"dns:billing.corp.test", true},
		{"dns:BILLING.corp.test.", true},
		{"dns:*.corp.test", true},
		{"dns:corp.test", false},
		{"dns:*.test", false},                 // rejected at parse time; see below
		{"dns:x.wild.corp.test", false},       // a wildcard SAN is not a host name
		{"dns:*.wild.corp.test", false},       // nor does it match a wildcard pattern
		{"dns:billing.corp.test.evil", false}, // suffix is not a match
		{"dns:*.billing.corp.test", false},    // exactly one label
		{"uri:spiffe://corp.test/ns/prod/sa/billing", true},
		{"uri:spiffe://corp.test/ns/*/sa/billing", true},
		{"uri:spiffe://corp.test/ns/*/sa/*", true},
		{"uri:spiffe://corp.test/ns/**", true},
		{"uri:spiffe://corp.test/ns/prod/sa/billing/**", false}, // ** needs one segment or more
		{"uri:spiffe://corp.test/ns/*", false},
		{"uri:spiffe://corp.test/ns/prod/sa/Billing", false}, // paths are case-sensitive
		{"uri:spiffe://corp.test", false},
		{"uri:spiffe://other.test/ns/prod/sa/billing", false},
		{"uri:https://corp.test/svc", true},
		{"uri:https://corp.test/svc/", false},
		{"email:Ops@corp.test", true},
		{"email:ops@corp.test", false}, // local parts are case-sensitive
		{"email:Ops@CORP.test", true},  // domains are not
		{"email:*@corp.test", true},
		{"email:*@*.corp.test", false},
		{"cn:billing", true},
		{"cn:Billing", false},
		{"fingerprint:" + strings.Repeat("AB", 32), true},
		{"fingerprint:" + strings.Repeat("ab", 31) + "ac", false},
		{"spki:" + strings.Repeat("cd", 32), true},
		{"spki:" + strings.Repeat("ab", 32), false},
	} {
		r, err := ParseRule(tc.rule)
		if err != nil {
			if tc.want {
				t.Errorf("ParseRule(%q): %v", tc.rule, err)
			}
			continue
		}
		if got := r.Match(identity()); got != tc.want {
			t.Errorf("%s.Match = %v, want %v", tc.rule, got, tc.want)
		}
		if r.Match(nil) {
			t.Errorf("%s matches a nil identity", tc.rule)
		}
	}
}

func TestMalformedSANsNeverMatch(t *testing.T) {
	id := &Identity{
		URIs:     []string{"spiffe://corp.test/billing/", "spiffe://CORP.test/billing", "spiffe://corp.test/a/../billing"},
		DNSNames: []string{"billing..corp.test", ""},
		Emails:   []string{"@corp.test", "ops@corp.test@evil.test"},
	}
	for _, s := range []string{"uri:spiffe://corp.test/**", "uri:spiffe://corp.test/billing", "dns:*.corp.test", "email:*@corp.test", "email:*@evil.test"} {
		if mustRule(t, s).Match(id) {
			t.Errorf("%s matched a malformed SAN in %+v", s, id)
		}
	}
}

func mustRule(t testing.TB, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestZeroRuleMatchesNothing(t *testing.T) {
	if (Rule{}).Match(identity()) {
		t.Error("the zero Rule matched")
	}
	if (Rule{Kind: KindAny}).Match(identity()) {
		t.Error("a Rule not built by ParseRule/NewRule matched")
	}
}

func TestNewRuleFromFlag(t *testing.T) {
	r, err := NewRule(KindURI, "spiffe://corp.test/billing")
	if err != nil || r.String() != "uri:spiffe://corp.test/billing" {
		t.Fatalf("NewRule = %v, %v", r, err)
	}
	if _, err := NewRule(KindAny, "x"); err == nil {
		t.Error(`NewRule(any, "x") succeeded`)
	}
	if _, err := NewRule("host", "x"); err == nil {
		t.Error(`NewRule("host") succeeded`)
	}
}

func TestRuleTextRoundTrip(t *testing.T) {
	var rules []Rule
	err := json.Unmarshal([]byte(`["uri:spiffe://corp.test/billing", "dns:*.Corp.Test", "any"]`), &rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 || !rules[0].Match(identityWithURI("spiffe://corp.test/billing")) {
		t.Fatalf("decoded rules %v do not match", rules)
	}
	b, err := json.Marshal(rules)
	if err != nil || string(b) != `["uri:spiffe://corp.test/billing","dns:*.corp.test","any"]` {
		t.Errorf("encoded %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`["uri:spiffe://Corp.test/x"]`), &rules); err == nil || !strings.Contains(err.Error(), "must be lowercase") {
		t.Errorf("decoding a bad rule: %v", err)
	}
	if _, err := json.Marshal(Rule{Kind: KindCN, Pattern: "x"}); err == nil {
		t.Error("a hand-made Rule, which matches nothing, was encoded")
	}
}

func identityWithURI(u string) *Identity { return &Identity{URIs: []string{u}} }

// TestRulesFromYAML reads rules the way the configuration does; a bad one
// fails the decoding with the reason (the config package adds file:line,
// which it has from the YAML node).
func TestRulesFromYAML(t *testing.T) {
	var cfg struct {
		Allow []Rule `yaml:"allow"`
	}
	if err := yaml.Unmarshal([]byte("allow:\n  - uri:spiffe://corp.test/billing\n  - email:*@corp.test\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Allow) != 2 || cfg.Allow[1].String() != "email:*@corp.test" {
		t.Fatalf("decoded %v", cfg.Allow)
	}
	err := yaml.Unmarshal([]byte("allow:\n  - dns:ok.corp.test\n  - uri:spiffe://corp.test/a/../b\n"), &cfg)
	if err == nil || !strings.Contains(err.Error(), `".." is not allowed`) {
		t.Errorf("bad rule in YAML: %v; want the reason", err)
	}
}
