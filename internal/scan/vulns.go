package scan

import (
	"fmt"
	"strings"
)

// Assess decides the vulnerabilities that follow from what the probes found
// (protocols, suites, DH size, compression, renegotiation) and adds them to
// r with their evidence. Findings a probe already made (Heartbleed, CCS
// injection) are kept as they are.
func Assess(r *Result) {
	have := map[string]bool{}
	for _, v := range r.Vulnerabilities {
		have[v.ID] = true
	}
	add := func(v Vulnerability) {
		if !have[v.ID] {
			have[v.ID] = true
			r.Vulnerabilities = append(r.Vulnerabilities, v)
		}
	}
	for _, f := range []func(*Result) Vulnerability{poodle, beast, sweet32, freak, logjam, drown, rc4, crime, insecureRenegotiation} {
		add(f(r))
	}
	for _, id := range []string{"heartbleed", "ccs_injection"} {
		if !have[id] {
			add(Vulnerability{ID: id, Name: map[string]string{"heartbleed": "Heartbleed", "ccs_injection": "CCS injection"}[id], Status: StatusUnknown, Evidence: "not probed"})
		}
	}
	order := map[string]int{}
	for i, id := range []string{"heartbleed", "ccs_injection", "insecure_renegotiation", "drown", "poodle", "freak", "logjam", "beast", "sweet32", "rc4", "crime"} {
		order[id] = i
	}
	vs := r.Vulnerabilities
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && order[vs[j].ID] < order[vs[j-1].ID]; j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

func finding(id, name string, cve []string, vulnerable bool, yes, no string) Vulnerability {
	v := Vulnerability{ID: id, Name: name, CVE: cve, Status: StatusNotVulnerable, Evidence: no}
	if vulnerable {
		v.Status, v.Evidence = StatusVulnerable, yes
	}
	return v
}

func listSuites(vs []VersionedSuite) string {
	by := map[uint16][]string{}
	for _, s := range vs {
		by[s.Version] = append(by[s.Version], s.Suite.Name)
	}
	var parts []string
	for _, v := range AllVersions {
		if names := by[v]; len(names) > 0 {
			if len(names) > 4 {
				names = append(names[:4:4], fmt.Sprintf("%d more", len(by[v])-4))
			}
			parts = append(parts, VersionName(v)+": "+strings.Join(names, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func poodle(r *Result) Vulnerability {
	cbc := r.SuitesWhere(func(v uint16, s Suite) bool { return v == VersionSSL30 && s.CBC })
	no := "SSL 3.0 is not accepted"
	if r.Supported(VersionSSL30) {
		no = "SSL 3.0 is accepted, but with no CBC suite"
	}
	return finding("poodle", "POODLE (SSL 3.0)", []string{"CVE-2014-3566"}, len(cbc) > 0, "SSL 3.0 with CBC suites: "+listSuites(cbc), no)
}

func beast(r *Result) Vulnerability {
	cbc := r.SuitesWhere(func(v uint16, s Suite) bool { return (v == VersionTLS10 || v == VersionSSL30) && s.CBC })
	yes := "CBC suites with TLS 1.0 or older: " + listSuites(cbc)
	if r.Supported(VersionTLS12) || r.Supported(VersionTLS13) {
		yes += " (clients that support TLS 1.2 or later are not exposed)"
	}
	return finding("beast", "BEAST", []string{"CVE-2011-3389"}, len(cbc) > 0, yes, "no CBC suite with SSL 3.0 or TLS 1.0")
}

func sweet32(r *Result) Vulnerability {
	b := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.BlockBits == 64 })
	return finding("sweet32", "SWEET32", []string{"CVE-2016-2183", "CVE-2016-6329"}, len(b) > 0, "64-bit block ciphers: "+listSuites(b), "no 64-bit block cipher (3DES, DES, IDEA, RC2)")
}

func freak(r *Result) Vulnerability {
	ex := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.Export && s.KeyExchange == "RSA" })
	return finding("freak", "FREAK", []string{"CVE-2015-0204"}, len(ex) > 0, "export RSA suites: "+listSuites(ex), "no export RSA suite")
}

func logjam(r *Result) Vulnerability {
	ex := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.Export && (s.KeyExchange == "DHE" || s.KeyExchange == "DH") })
	switch {
	case len(ex) > 0:
		return finding("logjam", "LOGJAM", []string{"CVE-2015-4000"}, true, "export DH suites: "+listSuites(ex), "")
	case r.DHBits > 0 && r.DHBits < 2048:
		return finding("logjam", "LOGJAM", []string{"CVE-2015-4000"}, true, fmt.Sprintf("DH key exchange with a %d-bit prime (under 2048 bits)", r.DHBits), "")
	case r.DHBits > 0:
		return finding("logjam", "LOGJAM", []string{"CVE-2015-4000"}, false, "", fmt.Sprintf("no export DH suite; DH prime of %d bits", r.DHBits))
	}
	return finding("logjam", "LOGJAM", []string{"CVE-2015-4000"}, false, "", "no DH key exchange")
}

func drown(r *Result) Vulnerability {
	return finding("drown", "DROWN", []string{"CVE-2016-0800"}, r.Supported(VersionSSL20),
		"SSL 2.0 is accepted on this port (the same key on other SSL 2.0 servers also counts, and is not checked)",
		"SSL 2.0 is not accepted on this port (a server elsewhere sharing this key with SSL 2.0 would still expose it)")
}

func rc4(r *Result) Vulnerability {
	s := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.RC4 })
	return finding("rc4", "RC4", []string{"CVE-2013-2566", "CVE-2015-2808"}, len(s) > 0, "RC4 suites: "+listSuites(s), "no RC4 suite")
}

func crime(r *Result) Vulnerability {
	return finding("crime", "CRIME (TLS compression)", []string{"CVE-2012-4929"}, len(r.Compression) > 0,
		"the server agreed to "+strings.Join(r.Compression, ", ")+" compression", "the server refused TLS compression")
}

func insecureRenegotiation(r *Result) Vulnerability {
	legacy := r.Supported(VersionSSL30) || r.Supported(VersionTLS10) || r.Supported(VersionTLS11) || r.Supported(VersionTLS12)
	v := Vulnerability{ID: "insecure_renegotiation", Name: "Insecure renegotiation", CVE: []string{"CVE-2009-3555"}}
	switch {
	case !legacy:
		v.Status, v.Evidence = StatusNotVulnerable, "only TLS 1.3 is accepted, which has no renegotiation"
	case r.SecureRenegotiation == nil:
		v.Status, v.Evidence = StatusUnknown, "the renegotiation_info answer was not observed"
	case *r.SecureRenegotiation:
		v.Status, v.Evidence = StatusNotVulnerable, "the server supports secure renegotiation (RFC 5746 renegotiation_info)"
	default:
		v.Status, v.Evidence = StatusVulnerable, "the server ignores renegotiation_info: secure renegotiation (RFC 5746) is not supported"
	}
	return v
}
