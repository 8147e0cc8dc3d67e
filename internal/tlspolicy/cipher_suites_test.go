package tlspolicy

import (
	"bufio"
	"context"
	"crypto/tls"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

func TestRegistryHasEverySuiteCryptoTLSKnows(t *testing.T) {
	all := append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
	if len(all) < 20 {
		t.Fatalf("crypto/tls lists only %d suites", len(all))
	}
	for _, g := range all {
		c, ok := CipherSuiteByID(g.ID)
		if !ok {
			t.Errorf("0x%04X %s missing from the registry", g.ID, g.Name)
			continue
		}
		if c.Name != g.Name {
			t.Errorf("0x%04X: registry name %q, crypto/tls name %q", g.ID, c.Name, g.Name)
		}
		for _, v := range []uint16{VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13} {
			goHas := false
			for _, sv := range g.SupportedVersions {
				goHas = goHas || sv == v
			}
			if goHas != c.SupportsVersion(v) {
				t.Errorf("%s at %s: registry says %v, crypto/tls says %v", c.Name, VersionName(v), c.SupportsVersion(v), goHas)
			}
		}
		if !g.Insecure && c.Strength() <= Insecure {
			t.Errorf("%s: crypto/tls considers it secure, registry says %v", c.Name, c.Strength())
		}
	}
}

func TestRegistryIsConsistent(t *testing.T) {
	ids := map[uint16]bool{}
	names := map[string]uint16{}
	for _, c := range CipherSuites() {
		if ids[c.ID] {
			t.Errorf("duplicate ID 0x%04X", c.ID)
		}
		ids[c.ID] = true
		for _, n := range []string{c.Name, c.OpenSSLName} {
			if n == "" {
				continue
			}
			if other, dup := names[strings.ToUpper(n)]; dup && other != c.ID {
				t.Errorf("name %s used by 0x%04X and 0x%04X", n, other, c.ID)
			}
			names[strings.ToUpper(n)] = c.ID
		}
		if c.Name == "" {
			t.Errorf("0x%04X has no name", c.ID)
		}
		if c.MinVersion > c.MaxVersion {
			t.Errorf("%s: MinVersion after MaxVersion", c.Name)
		}
		if c.IsAEAD() != (c.MAC == "AEAD") {
			t.Errorf("%s: mode %s but MAC %q", c.Name, c.Mode, c.MAC)
		}
		if c.Export && c.StrengthBits() > 56 {
			t.Errorf("%s: export suite with %d bits", c.Name, c.StrengthBits())
		}
		if c.Strength() == Strong && (!c.ForwardSecrecy || !c.IsAEAD()) {
			t.Errorf("%s: strong without forward secrecy and AEAD", c.Name)
		}
		if !c.SCSV && c.Strength() < Strong && len(c.Concerns()) == 0 {
			t.Errorf("%s: %v without a stated concern", c.Name, c.Strength())
		}
	}
	// Every IANA family the registry must cover, by one representative each.
	for _, want := range []struct {
		id   uint16
		name string
	}{
		{0x0000, "TLS_NULL_WITH_NULL_NULL"},
		{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
		{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
		{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
		{0x001F, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA"},
		{0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"},
		{0x008A, "TLS_PSK_WITH_RC4_128_SHA"},
		{0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"},
		{0x00C6, "TLS_SM4_GCM_SM3"},
		{0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{0x1301, "TLS_AES_128_GCM_SHA256"},
		{0x1305, "TLS_AES_128_CCM_8_SHA256"},
		{0x5600, "TLS_FALLBACK_SCSV"},
		{0xC01A, "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA"},
		{0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"},
		{0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
		{0xC0B4, "TLS_SHA256_SHA256"},
		{0xC100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC"},
		{0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		{0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"},
	} {
		c, ok := CipherSuiteByID(want.id)
		if !ok || c.Name != want.name {
			t.Errorf("0x%04X: got %q, want %s", want.id, c.Name, want.name)
		}
	}
	official := 0
	for _, c := range CipherSuites() {
		if !c.Unofficial {
			official++
		}
	}
	// The registry snapshot assigns 352 values (suites and both SCSVs).
	if official != 352 {
		t.Errorf("%d IANA-assigned entries, want 352", official)
	}
}

func TestCipherSuiteStrength(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Strength
		bits int
	}{
		{"TLS_RSA_WITH_NULL_SHA256", Insecure, 0},
		{"TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Insecure, 40},
		{"TLS_ECDHE_RSA_WITH_RC4_128_SHA", Insecure, 128},
		{"TLS_RSA_WITH_DES_CBC_SHA", Insecure, 56},
		{"TLS_DH_anon_WITH_AES_256_GCM_SHA384", Insecure, 256},
		{"TLS_SHA384_SHA384", Insecure, 0},
		{"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Weak, 112},
		{"TLS_RSA_WITH_AES_128_GCM_SHA256", Weak, 128},
		{"TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", Weak, 256},
		{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Acceptable, 128},
		{"TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", Acceptable, 128},
		{"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Strong, 256},
		{"ECDHE-RSA-AES128-GCM-SHA256", Strong, 128},
		{"TLS_AES_256_GCM_SHA384", Strong, 256},
		{"TLS_CHACHA20_POLY1305_SHA256", Strong, 256},
	} {
		c, ok := CipherSuiteByName(tc.name)
		if !ok {
			t.Errorf("%s not found", tc.name)
			continue
		}
		if c.Strength() != tc.want || c.StrengthBits() != tc.bits {
			t.Errorf("%s: %v/%d bits (%v), want %v/%d", tc.name, c.Strength(), c.StrengthBits(), c.Concerns(), tc.want, tc.bits)
		}
	}
	if _, ok := CipherSuiteByName("NO-SUCH-SUITE"); ok {
		t.Error("unknown name found")
	}
	if got := CipherSuiteName(0x1A1A); got != "GREASE 0x1A1A" {
		t.Errorf("CipherSuiteName(0x1A1A) = %q", got)
	}
	if got := CipherSuiteName(0x0A0B); got != "unknown suite 0x0A0B" {
		t.Errorf("CipherSuiteName(0x0A0B) = %q", got)
	}
}

// TestOpenSSLNames checks every OpenSSL name against the local openssl.
func TestOpenSSLNames(t *testing.T) {
	openssl := testtool.Need(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, openssl, "ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		id := parseHexPair(t, f[0])
		c, ok := CipherSuiteByID(id)
		if !ok {
			t.Errorf("openssl knows 0x%04X %s, the registry does not", id, f[2])
			continue
		}
		if c.OpenSSLName != f[2] {
			t.Errorf("0x%04X: OpenSSL name %q, openssl says %q", id, c.OpenSSLName, f[2])
		}
		n++
	}
	if n < 50 {
		t.Errorf("compared only %d suites with openssl", n)
	}
}

// TestTestsslMapping compares code points and names with the mapping that
// testssl.sh ships, an independent transcription of the registry.
func TestTestsslMapping(t *testing.T) {
	const path = "/etc/testssl/cipher-mapping.txt"
	f, err := os.Open(path)
	if err != nil {
		testtool.Missing(t, "testssl.sh ("+path+")")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || strings.Count(fs[0], ",") != 1 {
			continue // SSLv2 three-byte values
		}
		id := parseHexPair(t, fs[0])
		if id == 0xFFE0 || id == 0xFFE1 {
			continue // superseded Netscape values, left out on purpose
		}
		c, ok := CipherSuiteByID(id)
		if !ok {
			t.Errorf("0x%04X (%s) missing", id, fs[3])
			continue
		}
		if fs[3] != "-" && c.Name != fs[3] {
			t.Errorf("0x%04X: name %q, testssl.sh says %q", id, c.Name, fs[3])
		}
		if fs[2] != "-" && c.OpenSSLName != "" && c.OpenSSLName != fs[2] {
			t.Errorf("0x%04X: OpenSSL name %q, testssl.sh says %q", id, c.OpenSSLName, fs[2])
		}
		n++
	}
	if n < 300 {
		t.Errorf("compared only %d suites", n)
	}
}

func parseHexPair(t *testing.T, s string) uint16 {
	t.Helper()
	a, b, _ := strings.Cut(s, ",")
	hi, err1 := strconv.ParseUint(strings.TrimPrefix(a, "0x"), 16, 8)
	lo, err2 := strconv.ParseUint(strings.TrimPrefix(b, "0x"), 16, 8)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad code point %q", s)
	}
	return uint16(hi<<8 | lo)
}
