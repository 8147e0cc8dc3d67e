package scan

import (
	"strings"
	"testing"
)

// Suites as a probe records them, for building results by hand.
var (
	tls13AES128   = Suite{ID: 0x1301, Name: "TLS_AES_128_GCM_SHA256", KeyExchange: "TLS13", Cipher: "AES_128_GCM", Bits: 128, AEAD: true, FS: true, KeyExchangeBits: 253, Group: "x25519"}
	tls13AES256   = Suite{ID: 0x1302, Name: "TLS_AES_256_GCM_SHA384", KeyExchange: "TLS13", Cipher: "AES_256_GCM", Bits: 256, AEAD: true, FS: true, KeyExchangeBits: 253, Group: "x25519"}
	ecdheAES128   = Suite{ID: 0xc02f, Name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", KeyExchange: "ECDHE", Cipher: "AES_128_GCM", Bits: 128, AEAD: true, FS: true, KeyExchangeBits: 256, Group: "secp256r1"}
	ecdheAES256   = Suite{ID: 0xc030, Name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", KeyExchange: "ECDHE", Cipher: "AES_256_GCM", Bits: 256, AEAD: true, FS: true, KeyExchangeBits: 256, Group: "secp256r1"}
	ecdheCBC128   = Suite{ID: 0xc013, Name: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", KeyExchange: "ECDHE", Cipher: "AES_128_CBC", Bits: 128, CBC: true, FS: true, KeyExchangeBits: 256, Group: "secp256r1"}
	rsaCBC128     = Suite{ID: 0x002f, Name: "TLS_RSA_WITH_AES_128_CBC_SHA", KeyExchange: "RSA", Cipher: "AES_128_CBC", Bits: 128, CBC: true}
	rsaCBC256     = Suite{ID: 0x0035, Name: "TLS_RSA_WITH_AES_256_CBC_SHA", KeyExchange: "RSA", Cipher: "AES_256_CBC", Bits: 256, CBC: true}
	rsa3DES       = Suite{ID: 0x000a, Name: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", KeyExchange: "RSA", Cipher: "3DES_EDE_CBC", Bits: 112, KeyBits: 168, BlockBits: 64, CBC: true}
	rsaRC4        = Suite{ID: 0x0005, Name: "TLS_RSA_WITH_RC4_128_SHA", KeyExchange: "RSA", Cipher: "RC4_128", Bits: 128, RC4: true}
	exportRC4     = Suite{ID: 0x0003, Name: "TLS_RSA_EXPORT_WITH_RC4_40_MD5", KeyExchange: "RSA", Cipher: "RC4_40", Bits: 40, RC4: true, Export: true}
	dhe1024AES128 = Suite{ID: 0x0033, Name: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", KeyExchange: "DHE", Cipher: "AES_128_CBC", Bits: 128, CBC: true, FS: true, KeyExchangeBits: 1024}
	anonAES128    = Suite{ID: 0x0034, Name: "TLS_DH_anon_WITH_AES_128_CBC_SHA", KeyExchange: "DHE", Cipher: "AES_128_CBC", Bits: 128, CBC: true, FS: true, Anonymous: true, KeyExchangeBits: 2048}
)

func goodCert() *CertificateResult {
	return &CertificateResult{KeyType: "RSA", KeyBits: 2048, SignatureAlgorithm: "SHA256-RSA", Trusted: true, NameMatches: true, ChainComplete: true, ChainInOrder: true, DaysLeft: 80}
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// modern is what a well-configured server looks like: TLS 1.2 and 1.3, ECDHE
// with AES-GCM, a 2048-bit RSA certificate, HSTS for a year.
func modern() *Result {
	return &Result{
		Protocols: []ProtocolResult{
			{Version: VersionSSL20}, {Version: VersionSSL30}, {Version: VersionTLS10}, {Version: VersionTLS11},
			{Version: VersionTLS12, Supported: true, Suites: []Suite{ecdheAES128, ecdheAES256}},
			{Version: VersionTLS13, Supported: true, Suites: []Suite{tls13AES128, tls13AES256}},
		},
		SecureRenegotiation: yes(),
		Certificate:         goodCert(),
		HTTP:                &HTTPResult{HSTS: "max-age=31536000", HSTSMaxAge: 31536000},
	}
}

func setProto(r *Result, v uint16, suites ...Suite) {
	p := r.Protocol(v)
	p.Supported = len(suites) > 0
	p.Suites = suites
}

func TestRateWorkedCases(t *testing.T) {
	tests := []struct {
		name             string
		edit             func(r *Result)
		grade, ifTrusted string
		proto, kx, ciph  int
		score            int
		capReason        string // a cap or warning the rating must name
	}{
		{
			// TLS 1.2+1.3, RSA 2048 with ECDHE, AES-128 and AES-256:
			// (100+100)/2, 2048-4095 bits, (80+100)/2.
			name: "modern with long HSTS", edit: func(*Result) {},
			grade: "A+", proto: 100, kx: 90, ciph: 90, score: 93,
		},
		{
			name:  "modern without HSTS",
			edit:  func(r *Result) { r.HTTP = &HTTPResult{} },
			grade: "A-", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "no HTTP Strict Transport Security",
		},
		{
			name:  "short HSTS",
			edit:  func(r *Result) { r.HTTP = &HTTPResult{HSTS: "max-age=86400", HSTSMaxAge: 86400} },
			grade: "A-", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "shorter than 180 days",
		},
		{
			name:  "no TLS 1.3",
			edit:  func(r *Result) { setProto(r, VersionTLS13) },
			grade: "A-", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "TLS 1.3 is not accepted",
		},
		{
			name:  "no secure renegotiation",
			edit:  func(r *Result) { r.SecureRenegotiation = no() },
			grade: "A-", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "secure renegotiation",
		},
		{
			// TLS 1.0 next to 1.2: (100+90)/2 = 95, capped at B (2009q).
			name:  "TLS 1.0 still on",
			edit:  func(r *Result) { setProto(r, VersionTLS10, ecdheCBC128) },
			grade: "B", proto: 95, kx: 90, ciph: 90, score: 92, capReason: "TLS 1.0 accepted",
		},
		{
			name: "TLS 1.0 only",
			edit: func(r *Result) {
				setProto(r, VersionTLS12)
				setProto(r, VersionTLS13)
				setProto(r, VersionTLS10, ecdheCBC128)
			},
			// (90+90)/2; only 128-bit ciphers: 80.
			grade: "C", proto: 90, kx: 90, ciph: 80, score: 86, capReason: "neither TLS 1.2 nor TLS 1.3",
		},
		{
			// SSL 3.0 with CBC: POODLE caps at C; (100+80)/2 = 90.
			name: "SSL 3.0 with POODLE",
			edit: func(r *Result) {
				setProto(r, VersionSSL30, rsaCBC128)
				r.Vulnerabilities = []Vulnerability{{ID: "poodle", Status: StatusVulnerable}}
			},
			grade: "C", proto: 90, kx: 90, ciph: 90, score: 90, capReason: "POODLE",
		},
		{
			// SSL 2.0: protocol (100+0)/2 = 50, F.
			name: "SSL 2.0",
			edit: func(r *Result) {
				setProto(r, VersionSSL20, Suite{Name: "SSL_CK_RC4_128_WITH_MD5", KeyExchange: "RSA", Cipher: "RC4_128", Bits: 128, RC4: true})
			},
			grade: "F", proto: 50, kx: 90, ciph: 90, score: 78, capReason: "SSL 2.0",
		},
		{
			// Export: key exchange 40 points, 40-bit cipher 20 points.
			name:  "export suites",
			edit:  func(r *Result) { setProto(r, VersionTLS12, ecdheAES128, exportRC4) },
			grade: "F", proto: 100, kx: 40, ciph: 60, score: 66, capReason: "FREAK",
		},
		{
			// DHE with a 1024-bit group: key exchange 80, capped at B.
			name: "DHE 1024",
			edit: func(r *Result) {
				setProto(r, VersionTLS12, ecdheAES128, ecdheAES256, dhe1024AES128)
				r.DHBits = 1024
			},
			grade: "B", proto: 100, kx: 80, ciph: 90, score: 90, capReason: "DH parameters of 1024 bits",
		},
		{
			// 3DES counts as 168 bits in the cipher table (80 points). The
			// server prefers it: current clients get it.
			name: "3DES first in the server's order",
			edit: func(r *Result) {
				setProto(r, VersionTLS12, rsa3DES, ecdheAES256)
				r.Protocol(VersionTLS12).ServerPreference = yes()
			},
			grade: "C", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "SWEET32",
		},
		{
			// Kept last (or left to the client), 3DES only reaches clients
			// that have nothing better: no cap, as in the 2017 change.
			name: "3DES last in the server's order",
			edit: func(r *Result) {
				setProto(r, VersionTLS12, ecdheAES256, rsa3DES)
				r.Protocol(VersionTLS12).ServerPreference = yes()
			},
			grade: "A+", proto: 100, kx: 90, ciph: 90, score: 93,
		},
		{
			name:  "3DES the only TLS 1.2 suite",
			edit:  func(r *Result) { setProto(r, VersionTLS12, rsa3DES) },
			grade: "C", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "SWEET32",
		},
		{
			name: "static RSA preferred over ECDHE",
			edit: func(r *Result) {
				setProto(r, VersionTLS12, rsaCBC256, ecdheAES128, ecdheAES256)
				r.Protocol(VersionTLS12).ServerPreference = yes()
			},
			grade: "B", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "no forward secrecy with current clients",
		},
		{
			name: "static RSA offered but ECDHE preferred",
			edit: func(r *Result) {
				setProto(r, VersionTLS12, ecdheAES128, ecdheAES256, rsaCBC256)
				r.Protocol(VersionTLS12).ServerPreference = yes()
			},
			grade: "A+", proto: 100, kx: 90, ciph: 90, score: 93,
		},
		{
			name:  "RC4 with TLS 1.2",
			edit:  func(r *Result) { setProto(r, VersionTLS12, ecdheAES256, rsaRC4) },
			grade: "C", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "RC4",
		},
		{
			name: "static RSA and CBC only",
			edit: func(r *Result) {
				setProto(r, VersionTLS13)
				setProto(r, VersionTLS12, rsaCBC128, rsaCBC256)
			},
			grade: "B", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "no forward secrecy",
		},
		{
			name:  "anonymous key exchange",
			edit:  func(r *Result) { setProto(r, VersionTLS12, ecdheAES128, anonAES128) },
			grade: "F", proto: 100, kx: 0, ciph: 90, score: 0, capReason: "anonymous",
		},
		{
			name: "expired certificate",
			edit: func(r *Result) {
				r.Certificate.Trusted = false
				r.Certificate.Expired = true
				r.Certificate.TrustProblem = "expired on 2020-01-01"
			},
			grade: "T", ifTrusted: "A+", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "expired on 2020-01-01",
		},
		{
			name:  "SHA-1 certificate",
			edit:  func(r *Result) { r.Certificate.SignatureAlgorithm = "SHA1-RSA" },
			grade: "T", ifTrusted: "A+", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "SHA-1",
		},
		{
			name:  "name mismatch",
			edit:  func(r *Result) { r.Certificate.NameMatches = false },
			grade: "M", ifTrusted: "A+", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "does not match",
		},
		{
			name:  "missing intermediate",
			edit:  func(r *Result) { r.Certificate.ChainComplete = false },
			grade: "B", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "intermediate",
		},
		{
			name:  "1024-bit RSA certificate",
			edit:  func(r *Result) { r.Certificate.KeyBits = 1024 },
			grade: "B", proto: 100, kx: 80, ciph: 90, score: 90, capReason: "certificate key of 1024 bits",
		},
		{
			name: "4096-bit RSA and P-384 only",
			edit: func(r *Result) {
				r.Certificate.KeyBits = 4096
				s1, s2 := ecdheAES256, tls13AES256
				s1.KeyExchangeBits, s1.Group = 384, "secp384r1"
				s2.KeyExchangeBits, s2.Group = 384, "secp384r1"
				setProto(r, VersionTLS12, s1)
				setProto(r, VersionTLS13, s2)
			},
			grade: "A+", proto: 100, kx: 100, ciph: 100, score: 100,
		},
		{
			name: "heartbleed",
			edit: func(r *Result) {
				r.Vulnerabilities = []Vulnerability{{ID: "heartbleed", Status: StatusVulnerable}}
			},
			grade: "F", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "Heartbleed",
		},
		{
			name:  "compression",
			edit:  func(r *Result) { r.Compression = []string{"DEFLATE"} },
			grade: "C", proto: 100, kx: 90, ciph: 90, score: 93, capReason: "CRIME",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := modern()
			tt.edit(r)
			rt := Rate(r)
			if rt == nil {
				t.Fatal("Rate returned nil for a server with protocols")
			}
			if rt.Grade != tt.grade || rt.GradeIfTrusted != tt.ifTrusted {
				t.Errorf("grade %q (if trusted %q), want %q (%q); caps %+v warnings %+v", rt.Grade, rt.GradeIfTrusted, tt.grade, tt.ifTrusted, rt.Caps, rt.Warnings)
			}
			if rt.ProtocolScore != tt.proto || rt.KeyExchangeScore != tt.kx || rt.CipherScore != tt.ciph || rt.Score != tt.score {
				t.Errorf("scores protocol %d kx %d cipher %d total %d, want %d %d %d %d",
					rt.ProtocolScore, rt.KeyExchangeScore, rt.CipherScore, rt.Score, tt.proto, tt.kx, tt.ciph, tt.score)
			}
			if rt.GuideRevision != "2009r" {
				t.Errorf("guide revision %q", rt.GuideRevision)
			}
			if tt.capReason != "" {
				found := false
				for _, c := range append(append([]Cap(nil), rt.Caps...), rt.Warnings...) {
					found = found || strings.Contains(c.Reason, tt.capReason)
				}
				if !found {
					t.Errorf("no cap or warning mentions %q: caps %+v warnings %+v", tt.capReason, rt.Caps, rt.Warnings)
				}
			}
			if rt.Grade == "A+" && len(rt.ToReachAPlus) != 0 {
				t.Errorf("A+ but to-reach list %q", rt.ToReachAPlus)
			}
			if rt.Grade != "A+" && len(rt.ToReachAPlus) == 0 {
				t.Errorf("grade %s but nothing to do to reach A+", rt.Grade)
			}
		})
	}
}

func TestRateNoProtocols(t *testing.T) {
	if rt := Rate(&Result{Protocols: []ProtocolResult{{Version: VersionTLS12}}}); rt != nil {
		t.Fatalf("rated a server that accepts nothing: %+v", rt)
	}
}

func TestRateToReachAPlusOrder(t *testing.T) {
	r := modern()
	setProto(r, VersionTLS10, ecdheCBC128)
	setProto(r, VersionSSL20, Suite{Name: "SSL_CK_RC4_128_WITH_MD5", KeyExchange: "RSA", Cipher: "RC4_128", Bits: 128, RC4: true})
	r.HTTP = &HTTPResult{}
	rt := Rate(r)
	if len(rt.ToReachAPlus) < 3 || rt.ToReachAPlus[0] != "disable SSL 2.0" {
		t.Fatalf("to reach A+ should start with the F fix: %q", rt.ToReachAPlus)
	}
	last := rt.ToReachAPlus[len(rt.ToReachAPlus)-1]
	if !strings.Contains(last, "Strict-Transport-Security") {
		t.Errorf("HSTS fix should come last (a warning): %q", rt.ToReachAPlus)
	}
}

func TestGradeOrder(t *testing.T) {
	if !AtLeast("A+", "A") || !AtLeast("A", "A") || AtLeast("A-", "A") || AtLeast("T", "B") || !AtLeast("B", "C") {
		t.Fatal("grade order is wrong")
	}
	if ValidGrade("Z") || !ValidGrade("A-") {
		t.Fatal("ValidGrade is wrong")
	}
}

func TestDescribeSuiteFromPolicy(t *testing.T) {
	tdes := describeSuite(0x000a)
	if tdes.BlockBits != 64 || tdes.KeyBits != 168 || tdes.Bits != 112 || tdes.FS || !tdes.CBC {
		t.Errorf("3DES described as %+v", tdes)
	}
	dhe := describeSuite(0x009e)
	if dhe.KeyExchange != "DHE" || !dhe.FS || !dhe.AEAD || dhe.Bits != 128 {
		t.Errorf("DHE-RSA-AES128-GCM described as %+v", dhe)
	}
	if s := describeSuite(0x1302); s.KeyExchange != "TLS13" || s.Bits != 256 || !s.AEAD {
		t.Errorf("TLS_AES_256_GCM_SHA384 described as %+v", s)
	}
	if s := describeSuite(0x0003); !s.Export || !s.RC4 {
		t.Errorf("EXP-RC4-MD5 described as %+v", s)
	}
	if s := describeSuite(0x0034); !s.Anonymous {
		t.Errorf("ADH-AES128-SHA described as %+v", s)
	}
	for _, id := range candidateSuites(VersionTLS12) {
		if id == scsvFallback || id == scsvRenegotiation {
			t.Fatalf("candidate suites include signalling value 0x%04X", id)
		}
	}
	if n := len(candidateSuites(VersionTLS12)); n < 300 {
		t.Errorf("only %d candidate suites for TLS 1.2; the IANA registry has over 300", n)
	}
}
