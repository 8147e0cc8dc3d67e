package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	"golang.org/x/crypto/ocsp"
)

// lintExclusions are the only lints not applied, each with its reason: all
// encode CA/Browser Forum rules for publicly trusted CAs that cannot apply
// to a private one. TestLintExclusionsAreNotRFC5280 keeps RFC 5280 lints out
// of this list.
var lintExclusions = map[string]string{
	"e_sub_ca_certificate_policies_missing":                   "BR 7.1.2.10.5: policy OIDs assert a public CP/CPS; a private CA has none to assert",
	"e_invalid_ca_certificate_policies":                       "BR 7.1.2.10.5: same, for the intermediate",
	"e_sub_cert_certificate_policies_missing":                 "BR 7.1.2.7.9: same, for leaves",
	"e_sub_cert_cert_policy_empty":                            "BR 7.1.2.7.9: same, for leaves",
	"e_ca_country_name_missing":                               "BR 7.1.2.10.2: countryName names a public CA's jurisdiction; a private CA has none to state",
	"e_dnsname_not_valid_tld":                                 "BR 7.1.2.7.12: localhost and internal names are what a private CA certifies",
	"e_ext_san_contains_reserved_ip":                          "BR 7.1.2.7.12: 127.0.0.1 and ::1 are what the zero-config local certificate is for",
	"w_sub_cert_aia_contains_internal_names":                  "BR 7.1.2.7.7: the private CA's CRL/OCSP server is an internal host by design",
	"w_ext_subject_key_identifier_not_recommended_subscriber": "BR 7.1.2.7.6 discourages SKI on leaves; RFC 5280 4.2.1.2 says SHOULD include it, and tlsgate does",
	"e_algorithm_identifier_improper_encoding":                "BR 7.1.3.1 lists RSA and ECDSA only; Ed25519 (RFC 8410) is offered by this private CA",
}

func lintRegistry(t *testing.T, config string) lint.Registry {
	t.Helper()
	var names []string
	for n := range lintExclusions {
		names = append(names, n)
	}
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{ExcludeNames: names})
	if err != nil {
		t.Fatal(err)
	}
	if config != "" {
		cfg, err := lint.NewConfigFromString(config)
		if err != nil {
			t.Fatal(err)
		}
		reg.SetConfiguration(cfg)
	}
	return reg
}

func TestLintExclusionsAreNotRFC5280(t *testing.T) {
	reg := lint.GlobalRegistry()
	for name := range lintExclusions {
		var src lint.LintSource
		if l := reg.CertificateLints().ByName(name); l != nil {
			src = l.Source
		} else if l := reg.RevocationListLints().ByName(name); l != nil {
			src = l.Source
		} else {
			t.Errorf("excluded lint %s does not exist", name)
			continue
		}
		if src == lint.RFC5280 || src == lint.RFC5480 || src == lint.RFC8813 {
			t.Errorf("excluded lint %s is an RFC lint (%s); RFC 5280 lints are never excluded", name, src)
		}
	}
}

func lintProblems(rs *zlint.ResultSet) []string {
	var out []string
	for name, r := range rs.Results {
		if r.Status == lint.Warn || r.Status == lint.Error || r.Status == lint.Fatal {
			out = append(out, fmt.Sprintf("%s: %s %s", name, r.Status, r.Details))
		}
	}
	sort.Strings(out)
	return out
}

func lintCert(t *testing.T, reg lint.Registry, what string, c *x509.Certificate) {
	t.Helper()
	zc, err := zx509.ParseCertificate(c.Raw)
	if err != nil {
		t.Fatalf("%s: zcrypto cannot parse: %v", what, err)
	}
	if p := lintProblems(zlint.LintCertificateEx(zc, reg)); len(p) > 0 {
		t.Errorf("%s:\n  %s", what, strings.Join(p, "\n  "))
	}
}

func lintCRL(t *testing.T, reg lint.Registry, what string, der []byte) {
	t.Helper()
	zc, err := zx509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("%s: zcrypto cannot parse: %v", what, err)
	}
	if p := lintProblems(zlint.LintRevocationListEx(zc, reg)); len(p) > 0 {
		t.Errorf("%s:\n  %s", what, strings.Join(p, "\n  "))
	}
}

var (
	lintKeysOnce sync.Once
	lintKeys     map[KeyType]crypto.Signer
)

// TestZlint lints every profile with every key type, the CA certificates,
// the OCSP signer, both CRLs and good and revoked OCSP answers, for an
// ECDSA and an RSA hierarchy; openssl
// verifies each leaf's chain and purpose on the way.
func TestZlint(t *testing.T) {
	lintKeysOnce.Do(func() {
		lintKeys = map[KeyType]crypto.Signer{}
		for _, kt := range KeyTypes {
			k, err := GenerateKey(kt)
			if err != nil {
				t.Fatal(err)
			}
			lintKeys[kt] = k
		}
	})
	reg := lintRegistry(t, "")
	// The root CRL covers CA certificates: the 12-month bound applies.
	rootCRLReg := lintRegistry(t, "[e_crl_next_update_invalid]\nSubscriberCRL = false\n")
	ctx := context.Background()
	for _, caType := range []KeyType{ECDSAP256, RSA2048} {
		t.Run("ca-"+string(caType), func(t *testing.T) {
			ca, _ := newTestCA(t, InitOptions{KeyType: caType, PublicURL: "http://ca.example.test:8889"})
			lintCert(t, reg, "root", ca.Root())
			lintCert(t, reg, "intermediate", ca.Intermediate())
			lintCert(t, reg, "ocsp signer", ca.ocspCert)
			var first, last *Issued
			for _, p := range Profiles {
				for _, kt := range KeyTypes {
					req := Request{Profile: p, PublicKey: lintKeys[kt].Public(), DNS: []string{"api.example.com", "localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}}
					if p == ProfileClient {
						req = Request{Profile: p, PublicKey: lintKeys[kt].Public(), CommonName: "alice", Emails: []string{"alice@example.com"}, URIs: []string{"spiffe://example.com/alice"}}
					}
					is, err := ca.IssueLeaf(ctx, req)
					if err != nil {
						t.Fatalf("%s/%s: %v", p, kt, err)
					}
					lintCert(t, reg, fmt.Sprintf("%s/%s", p, kt), is.Leaf)
					opensslVerify(t, ca, is, p)
					last = is
					if first == nil {
						first = is
					}
				}
			}
			if err := ca.Revoke(ctx, last.Leaf.SerialNumber, ReasonKeyCompromise); err != nil {
				t.Fatal(err)
			}
			resp := ca.NewResponder()
			for _, is := range []*Issued{first, last} {
				req, _ := OCSPRequest(is.Leaf, ca.Intermediate())
				a, err := resp.Respond(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				r, err := ocsp.ParseResponse(a.DER, ca.Intermediate())
				if err != nil {
					t.Fatal(err)
				}
				rs := zlint.LintOcspResponseEx(r, reg)
				if len(rs.Results) == 0 {
					t.Fatal("no OCSP response lint ran")
				}
				if p := lintProblems(rs); len(p) > 0 {
					t.Errorf("OCSP response (status %d):\n  %s", r.Status, strings.Join(p, "\n  "))
				}
			}
			crl, err := ca.RevocationList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lintCRL(t, reg, "intermediate CRL", crl.DER)
			rcrl, err := ca.RootRevocationList(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lintCRL(t, rootCRLReg, "root CRL", rcrl.DER)
		})
	}
}
