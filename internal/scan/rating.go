package scan

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// GuideName and GuideRevision identify the rules Rate follows.
const (
	GuideName     = "SSL Labs SSL Server Rating Guide"
	GuideRevision = "2009r"
)

// HSTSMinAPlus is the shortest HSTS max-age that earns an A+: 180 days.
const HSTSMinAPlus = 180 * 24 * 60 * 60

// Rating is the grade of a server and every piece it was computed from.
type Rating struct {
	Guide         string `json:"guide"`
	GuideRevision string `json:"guide_revision"`
	// Grade is A+, A, A-, B, C, D, E, F, or T (certificate not trusted) or
	// M (certificate name mismatch).
	Grade string `json:"grade"`
	// GradeIfTrusted is the grade the server would get if its certificate
	// were trusted and matched the name; set only for T and M.
	GradeIfTrusted   string `json:"grade_if_trusted,omitempty"`
	Score            int    `json:"score"`
	ProtocolScore    int    `json:"protocol_score"`
	KeyExchangeScore int    `json:"key_exchange_score"`
	CipherScore      int    `json:"cipher_score"`
	// ScoreGrade is the letter the numeric score alone gives.
	ScoreGrade string `json:"score_grade"`
	// Caps are the rules that limited the grade, each with its ceiling.
	Caps []Cap `json:"caps,omitempty"`
	// Warnings lower an A to A- and rule out A+.
	Warnings []Cap `json:"warnings,omitempty"`
	// ToReachAPlus lists concrete changes, most important first; empty when
	// the grade is already A+.
	ToReachAPlus []string `json:"to_reach_a_plus,omitempty"`
}

// Cap is one rule that limits the grade.
type Cap struct {
	Grade  string `json:"grade"` // the ceiling it sets: F, C, B, A-, T or M
	Reason string `json:"reason"`
	Fix    string `json:"fix"`
}

// gradeOrder ranks grades from best to worst.
var gradeOrder = []string{"A+", "A", "A-", "B", "C", "D", "E", "F"}

// GradeRank returns the position of g from best (0, A+) to worst (7, F);
// T and M rank with F, an unknown grade ranks below everything.
func GradeRank(g string) int {
	for i, x := range gradeOrder {
		if x == g {
			return i
		}
	}
	if g == "T" || g == "M" {
		return len(gradeOrder) - 1
	}
	return len(gradeOrder)
}

// ValidGrade reports whether g is a grade Rate can give.
func ValidGrade(g string) bool { return GradeRank(g) < len(gradeOrder) }

// AtLeast reports whether grade g is as good as min or better.
func AtLeast(g, min string) bool { return GradeRank(g) <= GradeRank(min) }

// Category score tables of the guide.

func protocolPoints(v uint16) int {
	switch v {
	case VersionSSL20:
		return 0
	case VersionSSL30:
		return 80
	case VersionTLS10:
		return 90
	case VersionTLS11:
		return 95
	default: // TLS 1.2 and TLS 1.3
		return 100
	}
}

// keyExchangePoints scores an RSA-equivalent key-exchange strength.
func keyExchangePoints(bits int) int {
	switch {
	case bits <= 0:
		return 0
	case bits < 512:
		return 20
	case bits < 1024:
		return 40
	case bits < 2048:
		return 80
	case bits < 4096:
		return 90
	default:
		return 100
	}
}

func cipherPoints(bits int) int {
	switch {
	case bits <= 0:
		return 0
	case bits < 128:
		return 20
	case bits < 256:
		return 80
	default:
		return 100
	}
}

func letter(score int) string {
	switch {
	case score >= 80:
		return "A"
	case score >= 65:
		return "B"
	case score >= 50:
		return "C"
	case score >= 35:
		return "D"
	case score >= 20:
		return "E"
	}
	return "F"
}

// ellipticEquivalent maps the size of an elliptic-curve key to the RSA key
// size of the same strength (NIST SP 800-57 part 1, table 2).
func ellipticEquivalent(bits int) int {
	switch {
	case bits <= 0:
		return 0
	case bits < 160:
		return 512
	case bits < 224:
		return 1024
	case bits < 256:
		return 2048
	case bits < 384:
		return 3072
	case bits < 512:
		return 7680
	default:
		return 15360
	}
}

// certificateEquivalent is the RSA-equivalent strength of the server key,
// 0 when no certificate was seen.
func certificateEquivalent(c *CertificateResult) int {
	if c == nil {
		return 0
	}
	switch c.KeyType {
	case "ECDSA":
		return ellipticEquivalent(c.KeyBits)
	case "Ed25519":
		return 3072
	case "Ed448":
		return 7680
	}
	return c.KeyBits
}

// ephemeralEquivalent is the RSA-equivalent strength of the ephemeral key a
// suite was seen with, 0 when unknown.
func ephemeralEquivalent(s Suite) int {
	if s.KeyExchangeBits <= 0 {
		return 0
	}
	g := strings.ToLower(s.Group)
	if s.KeyExchange == "DHE" || s.KeyExchange == "DH" || strings.HasPrefix(g, "ffdhe") {
		return s.KeyExchangeBits
	}
	if strings.Contains(g, "mlkem") {
		// Hybrid groups are at least as strong as their classical half.
		return 3072
	}
	return ellipticEquivalent(s.KeyExchangeBits)
}

// suiteKeyExchangePoints scores the key exchange of one accepted suite.
func suiteKeyExchangePoints(s Suite, cert int) (points, bits int) {
	if s.Anonymous {
		return 0, 0
	}
	if s.Export {
		return 40, 512
	}
	bits = cert
	if s.FS || s.KeyExchange == "DH" || s.KeyExchange == "ECDH" {
		if e := ephemeralEquivalent(s); e > 0 && (bits == 0 || e < bits) {
			bits = e
		}
	}
	if bits == 0 {
		// Neither the certificate nor the ephemeral key was observed: do
		// not punish what was not measured.
		return 100, 0
	}
	return keyExchangePoints(bits), bits
}

// ratedCipherBits is the key length the guide's cipher table counts: the
// nominal one (it lists 3DES as 168 bits).
func ratedCipherBits(s Suite) int {
	if s.KeyBits > 0 || s.Null {
		return s.KeyBits
	}
	return s.Bits
}

// Rate grades r per the SSL Labs SSL Server Rating Guide, revision 2009r.
// It is a pure function of the probe results. A result without any supported
// protocol cannot be rated and gets nil.
func Rate(r *Result) *Rating {
	all := r.SuitesWhere(func(uint16, Suite) bool { return true })
	var versions []uint16
	for _, p := range r.Protocols {
		if p.Supported {
			versions = append(versions, p.Version)
		}
	}
	if len(versions) == 0 {
		return nil
	}
	rt := &Rating{Guide: GuideName, GuideRevision: GuideRevision}

	// Protocol support: average of the best and the worst protocol.
	best, worst := -1, 101
	for _, v := range versions {
		p := protocolPoints(v)
		best, worst = max(best, p), min(worst, p)
	}
	rt.ProtocolScore = (best + worst) / 2

	// Key exchange: the weakest key exchange the server agrees to.
	cert := certificateEquivalent(r.Certificate)
	kx := 101
	for _, vs := range all {
		if vs.Suite.KeyExchange == "" {
			continue
		}
		p, _ := suiteKeyExchangePoints(vs.Suite, cert)
		kx = min(kx, p)
	}
	if kx == 101 {
		kx = keyExchangePoints(cert)
		if cert == 0 {
			kx = 100
		}
	}
	rt.KeyExchangeScore = kx

	// Cipher strength: average of the strongest and the weakest cipher.
	cb, cw := -1, 101
	for _, vs := range all {
		if vs.Suite.Cipher == "" {
			continue // a suite tlsgate cannot name is not scored
		}
		p := cipherPoints(ratedCipherBits(vs.Suite))
		cb, cw = max(cb, p), min(cw, p)
	}
	if cb < 0 {
		cb, cw = 100, 100 // nothing enumerated: do not punish what was not measured
	}
	rt.CipherScore = (cb + cw) / 2

	if rt.ProtocolScore == 0 || rt.KeyExchangeScore == 0 || rt.CipherScore == 0 {
		rt.Score = 0
	} else {
		rt.Score = int(math.Round(0.3*float64(rt.ProtocolScore) + 0.3*float64(rt.KeyExchangeScore) + 0.4*float64(rt.CipherScore)))
	}
	rt.ScoreGrade = letter(rt.Score)

	rt.Caps = caps(r, all)
	rt.Warnings = warnings(r)

	grade := rt.ScoreGrade
	for _, c := range rt.Caps {
		if c.Grade == "T" || c.Grade == "M" {
			continue
		}
		if GradeRank(c.Grade) > GradeRank(grade) {
			grade = c.Grade
		}
	}
	if grade == "A" && len(rt.Warnings) > 0 {
		grade = "A-"
	}
	if grade == "A" && r.HTTP != nil && r.HTTP.HSTSMaxAge >= HSTSMinAPlus {
		grade = "A+"
	}
	rt.Grade = grade
	for _, c := range rt.Caps {
		if c.Grade == "T" || c.Grade == "M" {
			rt.GradeIfTrusted = grade
			rt.Grade = c.Grade
			break
		}
	}
	rt.ToReachAPlus = toReachAPlus(rt)
	return rt
}

func suiteNames(vs []VersionedSuite, limit int) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range vs {
		if !seen[s.Suite.Name] {
			seen[s.Suite.Name] = true
			names = append(names, s.Suite.Name)
		}
	}
	sort.Strings(names)
	if len(names) > limit {
		names = append(names[:limit], fmt.Sprintf("and %d more", len(names)-limit))
	}
	return strings.Join(names, ", ")
}

func versionsOf(vs []VersionedSuite) string {
	seen := map[uint16]bool{}
	var out []string
	for _, v := range AllVersions {
		for _, s := range vs {
			if s.Version == v && !seen[v] {
				seen[v] = true
				out = append(out, VersionName(v))
			}
		}
	}
	return strings.Join(out, ", ")
}

func vulnerable(r *Result, id string) bool {
	v := r.Vulnerability(id)
	return v != nil && v.Status == StatusVulnerable
}

// caps applies the guide's rules that set a ceiling on the grade.
func caps(r *Result, all []VersionedSuite) []Cap {
	var out []Cap
	add := func(grade, reason, fix string) { out = append(out, Cap{Grade: grade, Reason: reason, Fix: fix}) }
	modern := func(v uint16) bool { return v >= VersionTLS11 }

	// F: broken beyond repair.
	if r.Supported(VersionSSL20) {
		add("F", "SSL 2.0 is accepted (DROWN)", "disable SSL 2.0")
	}
	if ex := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.Export }); len(ex) > 0 {
		add("F", "export cipher suites are accepted (FREAK, LOGJAM): "+suiteNames(ex, 4), "remove every EXPORT cipher suite")
	}
	if an := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.Anonymous }); len(an) > 0 {
		add("F", "anonymous (unauthenticated) key exchange is accepted: "+suiteNames(an, 4), "remove every anon (aNULL) cipher suite")
	}
	if r.DHBits > 0 && r.DHBits < 1024 {
		add("F", fmt.Sprintf("DH parameters of %d bits (LOGJAM)", r.DHBits), "use ECDHE, or DH parameters of at least 2048 bits (ffdhe2048)")
	}
	if c := r.Certificate; c != nil && c.KeyType == "RSA" && c.KeyBits > 0 && c.KeyBits < 1024 {
		add("F", fmt.Sprintf("certificate key of %d bits", c.KeyBits), "issue the certificate for a 2048-bit RSA or a P-256 ECDSA key")
	}
	if c := r.Certificate; c != nil && strings.Contains(strings.ToUpper(c.SignatureAlgorithm), "MD5") {
		add("F", "certificate signed with MD5", "reissue the certificate with a SHA-256 signature")
	}
	if vulnerable(r, "heartbleed") {
		add("F", "vulnerable to Heartbleed (CVE-2014-0160)", "upgrade OpenSSL and replace the private key and certificate")
	}
	if vulnerable(r, "ccs_injection") {
		add("F", "vulnerable to CCS injection (CVE-2014-0224)", "upgrade the TLS library (OpenSSL 1.0.1h or later)")
	}

	// C.
	if r.Supported(VersionSSL30) {
		if vulnerable(r, "poodle") {
			add("C", "SSL 3.0 is accepted with CBC suites (POODLE)", "disable SSL 3.0")
		} else {
			add("B", "SSL 3.0 is accepted", "disable SSL 3.0")
		}
	}
	if rc4 := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.RC4 }); len(rc4) > 0 {
		if m := r.SuitesWhere(func(v uint16, s Suite) bool { return s.RC4 && modern(v) }); len(m) > 0 {
			add("C", "RC4 is accepted with TLS 1.1 or newer: "+suiteNames(m, 4), "remove every RC4 cipher suite")
		} else {
			add("B", "RC4 is accepted: "+suiteNames(rc4, 4), "remove every RC4 cipher suite")
		}
	}
	// 64-bit block ciphers cap the grade when a client of TLS 1.1 or newer
	// ends up with one: the server prefers it, or has nothing else.
	for _, p := range r.Protocols {
		if !p.Supported || !modern(p.Version) {
			continue
		}
		first := firstChoice(p)
		if first != nil && first.BlockBits == 64 || onlyWeak(p, func(s Suite) bool { return s.BlockBits == 64 }) {
			b64 := r.SuitesWhere(func(v uint16, s Suite) bool { return s.BlockBits == 64 && v == p.Version })
			add("C", p.Name+" clients get a 64-bit block cipher (SWEET32): "+suiteNames(b64, 4), "remove 3DES, DES, IDEA and RC2 cipher suites, or at least put them last")
			break
		}
	}
	if len(r.Compression) > 0 {
		add("C", "TLS compression is enabled (CRIME)", "disable TLS compression")
	}
	if !r.Supported(VersionTLS12) && !r.Supported(VersionTLS13) {
		add("C", "neither TLS 1.2 nor TLS 1.3 is accepted", "enable TLS 1.2 and TLS 1.3")
	}

	// B.
	if r.Supported(VersionTLS10) || r.Supported(VersionTLS11) {
		var old []string
		for _, v := range []uint16{VersionTLS10, VersionTLS11} {
			if r.Supported(v) {
				old = append(old, VersionName(v))
			}
		}
		add("B", strings.Join(old, " and ")+" accepted", "disable "+strings.Join(old, " and "))
	}
	if len(all) > 0 {
		// As the guide has it, suites without forward secrecy or AEAD only
		// cost when clients that can do better are given them: none is
		// there, or the server prefers one to what a current client offers.
		first := newestLegacyFirstChoice(r)
		if fs := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.FS }); len(fs) == 0 {
			add("B", "no forward secrecy: no suite uses an ephemeral key exchange", "enable ECDHE suites (and TLS 1.3)")
		} else if first != nil && !first.FS {
			add("B", "no forward secrecy with current clients: the server prefers "+first.Name, "put ECDHE suites first in the server's order")
		}
		if ae := r.SuitesWhere(func(_ uint16, s Suite) bool { return s.AEAD }); len(ae) == 0 {
			add("B", "no AEAD cipher suite (AES-GCM, ChaCha20-Poly1305)", "enable AES-GCM or ChaCha20-Poly1305 suites (and TLS 1.3)")
		} else if first != nil && !first.AEAD {
			add("B", "no AEAD with current clients: the server prefers "+first.Name, "put AES-GCM and ChaCha20-Poly1305 suites first in the server's order")
		}
	}
	if r.DHBits >= 1024 && r.DHBits < 2048 {
		add("B", fmt.Sprintf("DH parameters of %d bits", r.DHBits), "use ECDHE, or DH parameters of at least 2048 bits (ffdhe2048)")
	}
	if c := r.Certificate; c != nil && c.KeyType == "RSA" && c.KeyBits >= 1024 && c.KeyBits < 2048 {
		add("B", fmt.Sprintf("certificate key of %d bits", c.KeyBits), "issue the certificate for a 2048-bit RSA or a P-256 ECDSA key")
	}
	if c := r.Certificate; c != nil && !c.ChainComplete {
		add("B", "incomplete certificate chain: an intermediate certificate is missing", "serve the full chain: leaf first, then every intermediate")
	}

	// T and M: out of scope for a letter grade.
	if c := r.Certificate; c != nil {
		if !c.Trusted {
			reason := "certificate not trusted"
			if c.TrustProblem != "" {
				reason += ": " + c.TrustProblem
			}
			add("T", reason, "serve a certificate from a CA the clients trust, valid today, with a SHA-256 signature")
		} else if strings.Contains(strings.ToUpper(c.SignatureAlgorithm), "SHA1") {
			add("T", "certificate signed with SHA-1", "reissue the certificate with a SHA-256 signature")
		}
		if !c.NameMatches {
			add("M", "certificate does not match the host name", "issue a certificate whose subjectAltName includes the host name")
		}
	}
	return out
}

// mainstream reports whether a current client offers the suite at all.
func mainstream(s Suite) bool {
	return !s.Export && !s.Anonymous && !s.Null && !s.RC4 && s.Cipher != ""
}

// firstChoice is the suite the server picks for a current client that
// offers every mainstream suite: with server preference, the first of them
// in the server's order; without, nil, because the client decides and a
// current client puts AEAD with forward secrecy first.
func firstChoice(p ProtocolResult) *Suite {
	if p.ServerPreference == nil || !*p.ServerPreference {
		return nil
	}
	for i := range p.Suites {
		if mainstream(p.Suites[i]) {
			return &p.Suites[i]
		}
	}
	return nil
}

// onlyWeak reports whether every mainstream suite of p is weak, so that any
// client ends up with a weak one.
func onlyWeak(p ProtocolResult, weak func(Suite) bool) bool {
	n := 0
	for _, s := range p.Suites {
		if mainstream(s) {
			if !weak(s) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// newestLegacyFirstChoice is the server's first choice for the newest
// version before TLS 1.3 it accepts (TLS 1.3 suites are all AEAD with
// forward secrecy).
func newestLegacyFirstChoice(r *Result) *Suite {
	for _, v := range []uint16{VersionTLS12, VersionTLS11, VersionTLS10, VersionSSL30} {
		if p := r.Protocol(v); p != nil && p.Supported {
			return firstChoice(*p)
		}
	}
	return nil
}

// warnings are the issues that lower an A to A-.
func warnings(r *Result) []Cap {
	var out []Cap
	add := func(reason, fix string) { out = append(out, Cap{Grade: "A-", Reason: reason, Fix: fix}) }
	if !r.Supported(VersionTLS13) {
		add("TLS 1.3 is not accepted", "enable TLS 1.3")
	}
	legacy := r.Supported(VersionSSL30) || r.Supported(VersionTLS10) || r.Supported(VersionTLS11) || r.Supported(VersionTLS12)
	if legacy && r.SecureRenegotiation != nil && !*r.SecureRenegotiation {
		add("secure renegotiation (RFC 5746) is not supported", "upgrade the TLS library or enable secure renegotiation")
	}
	switch {
	case r.HTTP != nil && r.HTTP.HSTS == "" && r.HTTP.Error != "":
		add("HSTS could not be checked ("+r.HTTP.Error+")", fmt.Sprintf("make sure every HTTPS response carries Strict-Transport-Security: max-age=%d", 2*HSTSMinAPlus))
	case r.HTTP == nil || r.HTTP.HSTS == "":
		add("no HTTP Strict Transport Security (HSTS)", fmt.Sprintf("send Strict-Transport-Security: max-age=%d on every HTTPS response", 2*HSTSMinAPlus))
	case r.HTTP.HSTSMaxAge < HSTSMinAPlus:
		add(fmt.Sprintf("HSTS max-age of %d seconds is shorter than 180 days", r.HTTP.HSTSMaxAge), fmt.Sprintf("raise the HSTS max-age to at least %d (180 days)", HSTSMinAPlus))
	}
	return out
}

// toReachAPlus lists the changes that lift the grade to A+, the hardest
// ceilings first.
func toReachAPlus(rt *Rating) []string {
	if rt.Grade == "A+" {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	cs := append([]Cap(nil), rt.Caps...)
	sort.SliceStable(cs, func(i, j int) bool { return GradeRank(cs[i].Grade) > GradeRank(cs[j].Grade) })
	for _, c := range cs {
		add(c.Fix)
	}
	if rt.Score < 80 {
		if rt.ProtocolScore < 100 {
			add("accept only TLS 1.2 and TLS 1.3")
		}
		if rt.KeyExchangeScore < 90 {
			add("use keys of at least 2048 bits and ECDHE key exchange")
		}
		if rt.CipherScore < 80 {
			add("accept only 128-bit and 256-bit ciphers (AES-GCM, ChaCha20-Poly1305)")
		}
	}
	for _, w := range rt.Warnings {
		add(w.Fix)
	}
	return out
}
