package scan

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints a result for a person: grade first, then what it rests
// on, then the details.
func WriteText(w io.Writer, r *Result) error {
	p := &printer{w: w}
	p.f("%s (%s)\n", r.Target, r.Address)
	if r.Error != "" {
		p.f("  error: %s\n", r.Error)
		if len(r.Protocols) == 0 {
			return p.err
		}
	}
	if rt := r.Rating; rt != nil {
		g := rt.Grade
		if rt.GradeIfTrusted != "" {
			g += fmt.Sprintf(" (%s if the certificate were trusted)", rt.GradeIfTrusted)
		}
		p.f("\n  Grade          %s\n", g)
		p.f("  Score          %d = 30%% protocol %d + 30%% key exchange %d + 40%% cipher %d  (%s %s)\n",
			rt.Score, rt.ProtocolScore, rt.KeyExchangeScore, rt.CipherScore, rt.Guide, rt.GuideRevision)
		for _, c := range rt.Caps {
			p.f("  capped at %-4s %s\n", c.Grade, c.Reason)
		}
		for _, c := range rt.Warnings {
			p.f("  warning (A-)   %s\n", c.Reason)
		}
		if len(rt.ToReachAPlus) > 0 {
			p.f("\n  To reach A+:\n")
			for i, s := range rt.ToReachAPlus {
				p.f("    %d. %s\n", i+1, s)
			}
		}
	}

	p.f("\n  Protocols\n")
	for _, pr := range r.Protocols {
		state := "not offered"
		if pr.Supported {
			state = fmt.Sprintf("offered, %d suites", len(pr.Suites))
			if pr.ServerPreference != nil {
				if *pr.ServerPreference {
					state += ", server order"
				} else {
					state += ", client order"
				}
			}
		}
		p.f("    %-8s %s\n", VersionName(pr.Version), state)
	}
	for _, pr := range r.Protocols {
		if !pr.Supported || len(pr.Suites) == 0 {
			continue
		}
		p.f("\n  %s suites\n", VersionName(pr.Version))
		for _, s := range pr.Suites {
			var tags []string
			if s.KeyExchangeBits > 0 {
				kx := fmt.Sprintf("%s %d", s.KeyExchange, s.KeyExchangeBits)
				if s.Group != "" {
					kx = s.Group
				}
				tags = append(tags, kx)
			}
			tags = append(tags, fmt.Sprintf("%d bits", s.Bits))
			if s.FS {
				tags = append(tags, "FS")
			}
			if s.AEAD {
				tags = append(tags, "AEAD")
			}
			if w := weakness(s); w != "" {
				tags = append(tags, w)
			}
			p.f("    0x%04X %-45s %s\n", s.ID, s.Name, strings.Join(tags, ", "))
		}
	}

	p.f("\n  Key exchange\n")
	if len(r.Groups) > 0 {
		var gs []string
		for _, g := range r.Groups {
			gs = append(gs, g.Name)
		}
		p.f("    groups         %s\n", strings.Join(gs, " "))
	}
	if r.DHBits > 0 {
		p.f("    DH prime       %d bits\n", r.DHBits)
	}
	if len(r.SignatureSchemes) > 0 {
		p.f("    signatures     %s\n", strings.Join(r.SignatureSchemes, " "))
	}

	p.f("\n  Features\n")
	p.f("    fallback SCSV  %s\n", yesNo(r.FallbackSCSV, "supported", "NOT supported", "not applicable (one version)"))
	p.f("    secure reneg.  %s\n", yesNo(r.SecureRenegotiation, "supported", "NOT supported", "not observed"))
	p.f("    compression    %s\n", orNone(r.Compression))
	p.f("    resumption     tickets %s, session IDs %s\n", map[bool]string{true: "yes", false: "no"}[r.Resumption.Tickets], yesNo(r.Resumption.SessionID, "yes", "no", "not tested"))
	p.f("    ALPN           %s\n", orNone(r.ALPN))
	p.f("    OCSP stapling  %s\n", map[bool]string{true: "yes", false: "no"}[r.OCSPStapled])
	if r.ClientCertificateRequested {
		p.f("    client cert.   requested (mutual TLS)\n")
	}
	if h := r.HTTP; h != nil {
		hsts := "none"
		if h.HSTS != "" {
			hsts = fmt.Sprintf("max-age=%d (%d days)", h.HSTSMaxAge, h.HSTSMaxAge/86400)
			if h.HSTSSubdomains {
				hsts += ", includeSubDomains"
			}
			if h.HSTSPreload {
				hsts += ", preload"
			}
		}
		if h.Error != "" {
			hsts = "not checked: " + h.Error
		}
		p.f("    HSTS           %s\n", hsts)
		port80 := h.Port80
		if h.Port80Location != "" {
			port80 += " -> " + h.Port80Location
		}
		p.f("    port 80        %s\n", port80)
	}

	if c := r.Certificate; c != nil {
		p.f("\n  Certificate\n")
		p.f("    subject        %s\n", c.Subject)
		if len(c.SANs) > 0 {
			p.f("    names          %s\n", strings.Join(c.SANs, " "))
		}
		p.f("    issuer         %s\n", c.Issuer)
		p.f("    key            %s %d bits, signed with %s\n", c.KeyType, c.KeyBits, c.SignatureAlgorithm)
		p.f("    valid until    %s (%d days left)\n", c.NotAfter.Format("2006-01-02"), c.DaysLeft)
		trust := "trusted"
		if !c.Trusted {
			trust = "NOT trusted: " + c.TrustProblem
		}
		p.f("    trust          %s\n", trust)
		p.f("    name match     %s\n", map[bool]string{true: "yes", false: "NO"}[c.NameMatches])
		chain := fmt.Sprintf("%d certificates", c.ChainLength)
		if !c.ChainComplete {
			chain += ", INCOMPLETE (intermediate missing)"
		}
		if !c.ChainInOrder {
			chain += ", out of order"
		}
		p.f("    chain          %s\n", chain)
		p.f("    SCTs           %d\n", c.SCTs)
	}

	p.f("\n  Vulnerabilities\n")
	for _, v := range r.Vulnerabilities {
		state := map[string]string{StatusVulnerable: "VULNERABLE", StatusNotVulnerable: "not vulnerable", StatusUnknown: "unknown"}[v.Status]
		p.f("    %-24s %-15s %s\n", v.Name, state, v.Evidence)
	}
	for _, n := range r.Notes {
		p.f("\n  note: %s", n)
	}
	if len(r.Notes) > 0 {
		p.f("\n")
	}
	p.f("\n  scanned in %.1fs\n", float64(r.DurationMS)/1000)
	return p.err
}

func weakness(s Suite) string {
	switch {
	case s.Null:
		return "NULL"
	case s.Anonymous:
		return "anonymous"
	case s.Export:
		return "EXPORT"
	case s.RC4:
		return "RC4"
	case s.BlockBits == 64:
		return "64-bit block"
	case !s.FS && s.KeyExchange == "RSA":
		return "static RSA"
	}
	return ""
}

func yesNo(b *bool, yes, no, unknown string) string {
	if b == nil {
		return unknown
	}
	if *b {
		return yes
	}
	return no
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// WriteSummary prints one line per target: grade, score and the hardest
// cap, for runs over several targets.
func WriteSummary(w io.Writer, results []*Result) error {
	p := &printer{w: w}
	p.f("Summary\n")
	for _, r := range results {
		switch {
		case r.Rating == nil:
			// The error names its target for standalone use; the line already does.
			p.f("  %-32s %-3s %s\n", r.Target, "-", strings.TrimPrefix(r.Error, r.Target+": "))
		default:
			why := "no cap"
			if len(r.Rating.Caps) > 0 {
				why = r.Rating.Caps[0].Reason
				for _, c := range r.Rating.Caps {
					if GradeRank(c.Grade) > GradeRank(r.Rating.Caps[0].Grade) {
						why = c.Reason
					}
				}
			} else if len(r.Rating.Warnings) > 0 {
				why = r.Rating.Warnings[0].Reason
			}
			p.f("  %-32s %-3s %3d  %s\n", r.Target, r.Rating.Grade, r.Rating.Score, why)
		}
	}
	return p.err
}
