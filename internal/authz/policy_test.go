package authz

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPolicyDecide(t *testing.T) {
	billing, err := ParsePolicy([]string{"uri:spiffe://corp.test/payments", "uri:spiffe://corp.test/ns/*/sa/billing"})
	if err != nil {
		t.Fatal(err)
	}
	anyone, _ := ParsePolicy([]string{"any"})

	for _, tc := range []struct {
		name       string
		p          *Policy
		id         *Identity
		allowed    bool
		reason     Reason
		ruleSubstr string
	}{
		{"second rule matches", billing, identity(), true, ReasonAllowed, "uri:spiffe://corp.test/ns/*/sa/billing"},
		{"no certificate", billing, nil, false, ReasonNoCertificate, "uri:spiffe://corp.test/payments"},
		{"no rule matches", billing, &Identity{URIs: []string{"spiffe://corp.test/ns/prod/sa/web"}}, false, ReasonNoRuleMatched, "uri:spiffe://corp.test/payments | uri:spiffe://corp.test/ns/*/sa/billing"},
		{"empty policy denies", NewPolicy(), identity(), false, ReasonEmptyPolicy, "(none)"},
		{"nil policy denies", nil, identity(), false, ReasonEmptyPolicy, "(none)"},
		{"any verified client", anyone, identity(), true, ReasonAllowed, "any"},
		{"any still needs a certificate", anyone, nil, false, ReasonNoCertificate, "any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.p.Decide(tc.id)
			if d.Allowed != tc.allowed || d.Reason != tc.reason {
				t.Fatalf("Decide = %+v; want allowed=%v reason=%s", d, tc.allowed, tc.reason)
			}
			if !strings.Contains(d.Rule, tc.ruleSubstr) {
				t.Errorf("Decision.Rule = %q; want it to name %q", d.Rule, tc.ruleSubstr)
			}
			if d.Message == "" {
				t.Error("empty message")
			}
		})
	}
}

func TestParsePolicyReportsEveryBadRule(t *testing.T) {
	_, err := ParsePolicy([]string{"dns:ok.corp.test", "dns:bad..test", "uri:spiffe://Corp.test", "cn:fine"})
	if err == nil {
		t.Fatal("ParsePolicy accepted bad rules")
	}
	for _, want := range []string{`rule "dns:bad..test"`, `rule "uri:spiffe://Corp.test"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestDecisionJSON(t *testing.T) {
	p, _ := ParsePolicy([]string{"uri:spiffe://corp.test/billing"})
	b, err := json.Marshal(p.Decide(&Identity{URIs: []string{"spiffe://corp.test/web"}}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	if got["allowed"] != false || got["reason"] != "no_rule_matched" || got["rule"] != "uri:spiffe://corp.test/billing" || got["identity"] != "spiffe://corp.test/web" {
		t.Errorf("JSON body %s", b)
	}
}

func TestDenyListWinsOverAllowRules(t *testing.T) {
	p, _ := ParsePolicy([]string{"any"})
	dl := NewDenyList()
	id := identity()
	if d := Authorize(p, dl, id); !d.Allowed {
		t.Fatalf("denied before listing: %+v", d)
	}
	for _, s := range []string{"serial:0A:1B:2C", "serial:dec:662316", "spki:" + strings.Repeat("CD", 32)} {
		e, err := ParseDenyEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		e.Note = "key leaked"
		if !dl.Add(e) {
			t.Fatalf("Add(%s) reported no change", s)
		}
		d := Authorize(p, dl, id)
		if d.Allowed || d.Reason != ReasonDenyListed || d.Rule != e.String() {
			t.Errorf("after deny %s: %+v", s, d)
		}
		if !dl.Remove(e) {
			t.Fatalf("Remove(%s) found nothing", s)
		}
		if d := Authorize(p, dl, id); !d.Allowed {
			t.Errorf("still denied after removing %s: %+v", s, d)
		}
	}
}

func TestParseDenyEntryRejects(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0a1b", "write serial:HEX"},
		{"serial:", "1 to 128 hex digits"},
		{"serial:xyz", "not hexadecimal"},
		{"serial:dec:-5", "non-negative decimal"},
		{"spki:abcd", "64"},
		{"cn:billing", "expected serial or spki"},
	} {
		_, err := ParseDenyEntry(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDenyEntry(%q) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestDenyListChangedWakesWatchers(t *testing.T) {
	dl := NewDenyList()
	ch := dl.Changed()
	select {
	case <-ch:
		t.Fatal("Changed fired before any change")
	default:
	}
	e := DenyEntry{Kind: DenySerial, Value: "a1b2c"}
	dl.Add(e)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed did not fire after Add")
	}
	if dl.Add(e) {
		t.Error("adding the same entry twice reported a change")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan int, 16)
	n := 0
	done := make(chan struct{})
	go func() {
		dl.Watch(ctx, func() { n++; calls <- n })
		close(done)
	}()
	time.Sleep(10 * time.Millisecond) // let Watch take its channel; a missed wake-up would fail below
	dl.Replace([]DenyEntry{{Kind: DenySPKI, Value: strings.Repeat("cd", 32)}})
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not call back after Replace")
	}
	if got := dl.Entries(); len(got) != 1 || got[0].Kind != DenySPKI {
		t.Errorf("Entries after Replace = %v", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

// TestDenyListConcurrent exercises readers and writers together under -race.
func TestDenyListConcurrent(t *testing.T) {
	dl := NewDenyList()
	p, _ := ParsePolicy([]string{"any"})
	id := identity()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				e := DenyEntry{Kind: DenySerial, Value: id.Serial}
				dl.Add(e)
				dl.Remove(e)
				dl.Add(e)
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				Authorize(p, dl, id)
				dl.Entries()
			}
		}()
	}
	wg.Wait()
	if d := Authorize(p, dl, id); d.Allowed {
		t.Error("identity allowed although every writer ended by denying it")
	}
}
