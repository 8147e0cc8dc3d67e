package scan

import (
	"crypto/tls"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// weakServer describes a real server built to show one weakness, and what a
// scan of it must report.
type weakServer struct {
	name     string
	leaf     leafSpec
	openssl  []string // s_server arguments; nil means nginx or Go
	nginx    string   // nginx TLS directives
	goTLS    *tls.Config
	headers  map[string]string // response headers of the Go server
	versions []uint16          // exactly the versions the scan must find
	suites   map[uint16][]uint16
	vuln     []string // vulnerabilities that must be reported
	notVuln  []string // and those that must not
	grade    string
	trusted  string // grade_if_trusted for T and M
	caps     []string
	check    func(t *testing.T, r *Result)
}

var (
	dhOnce sync.Once
	dhFile string
	dhErr  error
)

// dh1024 generates (once) a 1024-bit DH group for the DHE-1024 server.
func dh1024(t *testing.T) string {
	t.Helper()
	bin := testtool.Need(t, "openssl")
	dhOnce.Do(func() {
		dhFile = filepath.Join(sharedDir, "dh1024.pem")
		out, err := exec.Command(bin, "dhparam", "-out", dhFile, "1024").CombinedOutput()
		if err != nil {
			dhErr = err
			t.Logf("openssl dhparam: %s", out)
		}
	})
	if dhErr != nil {
		t.Fatalf("openssl dhparam 1024: %v", dhErr)
	}
	return dhFile
}

func weakServers(t *testing.T) []weakServer {
	return []weakServer{
		{
			name: "openssl default", openssl: []string{},
			versions: []uint16{VersionTLS12, VersionTLS13},
			suites:   map[uint16][]uint16{VersionTLS13: {0x1301, 0x1302, 0x1303}},
			notVuln:  []string{"heartbleed", "ccs_injection", "insecure_renegotiation", "beast", "sweet32", "poodle", "crime", "drown", "freak", "rc4"},
			grade:    "A-", caps: []string{"no HTTP Strict Transport Security"},
			check: func(t *testing.T, r *Result) {
				// Static RSA suites next to ECDHE: FS is there, so no cap for it.
				if !r.Resumption.Tickets || r.Resumption.SessionID == nil || !*r.Resumption.SessionID || r.SecureRenegotiation == nil || !*r.SecureRenegotiation {
					t.Errorf("tickets %v, session IDs %v, secure renegotiation %v: want all three", r.Resumption.Tickets, r.Resumption.SessionID, r.SecureRenegotiation)
				}
				if len(r.Groups) < 3 || r.Groups[0].Name != "x25519" {
					t.Errorf("groups %+v: want x25519 first and more", r.Groups)
				}
			},
		},
		{
			name: "TLS 1.0 only", openssl: []string{"-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0"},
			versions: []uint16{VersionTLS10},
			suites:   map[uint16][]uint16{VersionTLS10: {0x002f, 0xc013}},
			vuln:     []string{"beast"}, notVuln: []string{"sweet32", "poodle", "heartbleed", "ccs_injection"},
			grade: "C", caps: []string{"neither TLS 1.2 nor TLS 1.3", "TLS 1.0"},
		},
		{
			// Debian's OpenSSL 3 is built without 3DES; crypto/tls still has it.
			name: "3DES and RC4", goTLS: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_RC4_128_SHA}},
			versions: []uint16{VersionTLS10, VersionTLS11, VersionTLS12},
			vuln:     []string{"sweet32", "beast", "rc4"},
			// crypto/tls puts 3DES and RC4 last: no SWEET32 cap, but RC4 caps at C.
			grade: "C", caps: []string{"RC4 is accepted with TLS 1.1 or newer"},
			check: func(t *testing.T, r *Result) {
				if p := r.Protocol(VersionTLS12); p == nil || !slices.ContainsFunc(p.Suites, func(s Suite) bool { return s.ID == 0x000a }) {
					t.Errorf("TLS 1.2 suites do not include TLS_RSA_WITH_3DES_EDE_CBC_SHA: %+v", p)
				}
				if r.FallbackSCSV == nil || !*r.FallbackSCSV {
					t.Errorf("fallback SCSV %v: crypto/tls supports it", r.FallbackSCSV)
				}
				// crypto/tls servers resume with tickets only.
				if r.Resumption.SessionID == nil || *r.Resumption.SessionID || !r.Resumption.Tickets {
					t.Errorf("session IDs %v, tickets %v: want no and yes", r.Resumption.SessionID, r.Resumption.Tickets)
				}
			},
		},
		{
			name: "DHE 1024", openssl: []string{"-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", "-dhparam", dh1024(t)},
			versions: []uint16{VersionTLS12},
			suites:   map[uint16][]uint16{VersionTLS12: {0x009e}},
			vuln:     []string{"logjam"},
			grade:    "B", caps: []string{"DH parameters of 1024 bits"},
			check: func(t *testing.T, r *Result) {
				if r.DHBits != 1024 || r.Rating.KeyExchangeScore != 80 {
					t.Errorf("DH %d bits, key exchange score %d: want 1024 and 80", r.DHBits, r.Rating.KeyExchangeScore)
				}
			},
		},
		{
			name: "static RSA only", openssl: []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256:AES256-SHA"},
			versions: []uint16{VersionTLS12},
			suites:   map[uint16][]uint16{VersionTLS12: {0x0035, 0x009c}},
			notVuln:  []string{"logjam"},
			grade:    "B", caps: []string{"no forward secrecy"},
		},
		{
			name: "expired certificate", leaf: leafSpec{expired: true}, openssl: []string{},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "T", trusted: "A-", caps: []string{"expired on"},
		},
		{
			name: "missing intermediate", leaf: leafSpec{noInter: true}, openssl: []string{},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "T", trusted: "B", caps: []string{"intermediate certificate is missing", "was not sent"},
			check: func(t *testing.T, r *Result) {
				if r.Certificate.ChainComplete {
					t.Error("chain reported complete without the intermediate")
				}
			},
		},
		{
			name: "chain out of order", leaf: leafSpec{reorder: true}, openssl: []string{},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "A-",
			check: func(t *testing.T, r *Result) {
				c := r.Certificate
				if c.ChainInOrder || !c.ChainComplete || c.ChainLength != 3 || !c.Trusted {
					t.Errorf("in order %v, complete %v, length %d, trusted %v: want false, true, 3, true", c.ChainInOrder, c.ChainComplete, c.ChainLength, c.Trusted)
				}
			},
		},
		{
			// Mutual TLS: crypto/tls cannot finish the handshake without a
			// client certificate, so the chain comes from the raw probes.
			name: "client certificate required", openssl: []string{"-Verify", "1"},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "A-",
			check: func(t *testing.T, r *Result) {
				if !r.ClientCertificateRequested || r.Certificate == nil || !r.Certificate.Trusted {
					t.Errorf("client certificate requested %v, certificate %+v", r.ClientCertificateRequested, r.Certificate)
				}
			},
		},
		{
			name: "SHA-1 certificate", leaf: leafSpec{sha1: true}, openssl: []string{"-min_protocol", "TLSv1.2", "-cipher", "DEFAULT:@SECLEVEL=0"},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "T", trusted: "A-", caps: []string{"not trusted"},
		},
		{
			name: "1024-bit RSA key", leaf: leafSpec{rsa1024: true}, openssl: []string{"-min_protocol", "TLSv1.2", "-cipher", "DEFAULT:@SECLEVEL=0"},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "B", caps: []string{"certificate key of 1024 bits"},
			check: func(t *testing.T, r *Result) {
				if r.Certificate.KeyBits != 1024 || r.Rating.KeyExchangeScore != 80 {
					t.Errorf("key %d bits, key exchange score %d: want 1024 and 80", r.Certificate.KeyBits, r.Rating.KeyExchangeScore)
				}
			},
		},
		{
			name: "wrong name", leaf: leafSpec{names: []string{"other.example"}}, openssl: []string{},
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "M", trusted: "A-", caps: []string{"does not match"},
		},
		{
			name: "nginx with HSTS", openssl: nil,
			nginx: `ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
    ssl_prefer_server_ciphers on;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;`,
			versions: []uint16{VersionTLS12, VersionTLS13},
			grade:    "A+",
			check: func(t *testing.T, r *Result) {
				if r.HTTP == nil || r.HTTP.HSTSMaxAge != 31536000 || !r.HTTP.HSTSSubdomains || r.HTTP.Port80 != "redirect-https" {
					t.Errorf("HTTP %+v: want HSTS of a year with includeSubDomains and a redirect on port 80", r.HTTP)
				}
				p := r.Protocol(VersionTLS12)
				if p.ServerPreference == nil || !*p.ServerPreference {
					t.Errorf("nginx with ssl_prefer_server_ciphers: server preference %v", p.ServerPreference)
				}
				for _, s := range p.Suites {
					if !s.FS || !s.AEAD {
						t.Errorf("suite %s is not ECDHE+AEAD", s.Name)
					}
				}
			},
		},
	}
}

// TestScanRealServers builds weak and strong servers on loopback and checks
// that a scan reports what each was built to show.
func TestScanRealServers(t *testing.T) {
	testtool.Need(t, "openssl")
	ca := newTestCA(t)
	for _, ws := range weakServers(t) {
		t.Run(strings.ReplaceAll(ws.name, " ", "_"), func(t *testing.T) {
			lf := ca.issue(t, t.TempDir(), ws.leaf)
			var addr string
			o := Options{}
			switch {
			case ws.goTLS != nil:
				addr = startGoServer(t, lf, ws.goTLS, ws.headers)
			case ws.openssl == nil:
				var httpAddr string
				addr, httpAddr = startNginx(t, lf, ws.nginx)
				o.HTTPPort = httpPortOf(httpAddr)
			default:
				addr = startOpenSSL(t, lf, ws.openssl...)
			}
			r := scanAddr(t, ca, addr, o)
			var got []uint16
			for _, p := range r.Protocols {
				if p.Supported {
					got = append(got, p.Version)
				}
			}
			if !slices.Equal(got, ws.versions) {
				t.Errorf("versions %v, want %v", names(got), names(ws.versions))
			}
			for v, want := range ws.suites {
				var ids []uint16
				for _, s := range r.Protocol(v).Suites {
					ids = append(ids, s.ID)
				}
				slices.Sort(ids)
				if !slices.Equal(ids, want) {
					t.Errorf("%s suites %04x, want %04x", VersionName(v), ids, want)
				}
			}
			for _, id := range ws.vuln {
				if v := r.Vulnerability(id); v == nil || v.Status != StatusVulnerable {
					t.Errorf("%s not reported vulnerable: %+v", id, v)
				} else if v.Evidence == "" {
					t.Errorf("%s vulnerable without evidence", id)
				}
			}
			for _, id := range ws.notVuln {
				if v := r.Vulnerability(id); v == nil || v.Status != StatusNotVulnerable {
					t.Errorf("%s not reported safe: %+v", id, v)
				}
			}
			if r.Rating == nil {
				t.Fatal("no rating")
			}
			if r.Rating.Grade != ws.grade || r.Rating.GradeIfTrusted != ws.trusted {
				t.Errorf("grade %s (if trusted %q), want %s (%q); caps %+v warnings %+v", r.Rating.Grade, r.Rating.GradeIfTrusted, ws.grade, ws.trusted, r.Rating.Caps, r.Rating.Warnings)
			}
			for _, c := range ws.caps {
				found := false
				for _, x := range append(append([]Cap(nil), r.Rating.Caps...), r.Rating.Warnings...) {
					found = found || strings.Contains(x.Reason, c)
				}
				if !found {
					t.Errorf("no cap or warning mentions %q: %+v %+v", c, r.Rating.Caps, r.Rating.Warnings)
				}
			}
			if ws.check != nil {
				ws.check(t, r)
			}
			if t.Failed() {
				var b strings.Builder
				_ = WriteText(&b, r)
				t.Log(b.String())
			}
		})
	}
}

func names(vs []uint16) []string {
	var out []string
	for _, v := range vs {
		out = append(out, VersionName(v))
	}
	return out
}
