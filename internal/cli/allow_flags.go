package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tlsgate/tlsgate/internal/authz"
)

// allowFlagKinds are the rule kinds that serve and tunnel --server take as
// repeatable --allow-KIND flags, in the order their rules are checked.
var allowFlagKinds = []struct {
	kind authz.Kind
	help string
}{
	{authz.KindURI, "URI SAN, e.g. spiffe://corp.test/billing or spiffe://corp.test/ns/*/sa/**"},
	{authz.KindDNS, "DNS SAN, e.g. billing.corp.test or *.corp.test"},
	{authz.KindEmail, "email SAN, e.g. ops@corp.test or *@corp.test"},
	{authz.KindCN, "subject common name, exactly"},
	{authz.KindFingerprint, "SHA-256 of the client certificate, hex with or without colons"},
	{authz.KindSPKI, "SHA-256 of the client's public key, sha256/BASE64 or hex"},
}

// addAllowFlags registers --allow-KIND for every kind and
// --allow-any-verified, so that serve and tunnel --server take the same
// flags with the same meaning; mode prefixes each help text.
func addAllowFlags(fl *pflag.FlagSet, allow map[authz.Kind]*[]string, anyVerified *bool, mode string) {
	for _, a := range allowFlagKinds {
		v := new([]string)
		allow[a.kind] = v
		fl.StringArrayVar(v, "allow-"+string(a.kind), nil, mode+"allow clients by "+a.help+" (repeatable; any rule allows)")
	}
	fl.BoolVar(anyVerified, "allow-any-verified", false, mode+"allow every client whose certificate the client CA verifies")
}

// allowRules turns the --allow-* flags into rules, naming the flag and the
// pattern of every one that does not parse.
func allowRules(allow map[authz.Kind]*[]string, anyVerified bool) ([]authz.Rule, error) {
	var rules []authz.Rule
	var errs []string
	for _, a := range allowFlagKinds {
		for _, v := range *allow[a.kind] {
			r, err := authz.NewRule(a.kind, v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("--allow-%s %q: %v", a.kind, v, err))
				continue
			}
			rules = append(rules, r)
		}
	}
	if anyVerified {
		r, _ := authz.ParseRule(string(authz.KindAny))
		rules = append(rules, r)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return rules, nil
}
