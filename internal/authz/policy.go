package authz

import (
	"fmt"
	"strings"
)

// Reason is a short, stable label for a decision, fit for metrics labels and
// JSON bodies.
type Reason string

// The reasons a Decision carries.
const (
	ReasonAllowed       Reason = "allowed"
	ReasonNoCertificate Reason = "no_certificate"  // no verified client certificate
	ReasonEmptyPolicy   Reason = "empty_policy"    // no rule configured: nobody is allowed
	ReasonNoRuleMatched Reason = "no_rule_matched" // a certificate, but no rule accepts it
	ReasonDenyListed    Reason = "deny_listed"     // on the deny-list by serial or public key
)

// Decision is the outcome of authorizing one identity.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Reason  Reason `json:"reason"`
	// Rule is the rule that allowed the client; on denial, the rule that
	// was not met: the policy's rules joined by " | ", or the deny-list
	// entry ("deny:serial:HEX", "deny:spki:HEX").
	Rule     string `json:"rule,omitempty"`
	Identity string `json:"identity,omitempty"`
	Message  string `json:"message"`
}

// Policy allows a client when any of its rules matches. A policy without
// rules allows nobody: to let every verified client pass, say so with the
// rule "any".
type Policy struct {
	rules []Rule
}

// NewPolicy returns a policy of the given rules.
func NewPolicy(rules ...Rule) *Policy {
	return &Policy{rules: append([]Rule(nil), rules...)}
}

// ParsePolicy parses rule strings (see ParseRule). It reports every bad rule,
// each error naming its rule, joined in order.
func ParsePolicy(rules []string) (*Policy, error) {
	p := &Policy{}
	var errs []string
	for _, s := range rules {
		r, err := ParseRule(s)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		p.rules = append(p.rules, r)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return p, nil
}

// Rules returns the policy's rules in order.
func (p *Policy) Rules() []Rule {
	if p == nil {
		return nil
	}
	return append([]Rule(nil), p.rules...)
}

// Empty reports whether the policy has no rule and so denies everyone.
func (p *Policy) Empty() bool { return p == nil || len(p.rules) == 0 }

// String lists the rules separated by " | ", or "(none)".
func (p *Policy) String() string {
	if p.Empty() {
		return "(none)"
	}
	s := make([]string, len(p.rules))
	for i, r := range p.rules {
		s[i] = r.String()
	}
	return strings.Join(s, " | ")
}

// Decide authorizes an identity; nil means the client presented no verified
// certificate. A nil policy denies everyone.
func (p *Policy) Decide(id *Identity) Decision {
	return Authorize(p, nil, id)
}

// Authorize decides for an identity against a policy and a deny-list (which
// may be nil). The deny-list wins over every allow rule.
func Authorize(p *Policy, deny *DenyList, id *Identity) Decision {
	if id == nil {
		return Decision{Reason: ReasonNoCertificate, Rule: p.String(),
			Message: "a verified client certificate is required; present one issued by a trusted client CA"}
	}
	if e, ok := deny.Denied(id); ok {
		return Decision{Reason: ReasonDenyListed, Rule: e.String(), Identity: id.String(),
			Message: fmt.Sprintf("client certificate %s is on the deny-list (%s)", id, e)}
	}
	if p.Empty() {
		return Decision{Reason: ReasonEmptyPolicy, Rule: p.String(), Identity: id.String(),
			Message: "no allow rule is configured, so no client may pass; add rules, or the rule \"any\" to allow every verified client"}
	}
	for _, r := range p.rules {
		if r.Match(id) {
			return Decision{Allowed: true, Reason: ReasonAllowed, Rule: r.String(), Identity: id.String(),
				Message: fmt.Sprintf("allowed by %s", r)}
		}
	}
	return Decision{Reason: ReasonNoRuleMatched, Rule: p.String(), Identity: id.String(),
		Message: fmt.Sprintf("client certificate %s matches no allow rule (%s)", id, p)}
}
