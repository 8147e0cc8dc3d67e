package tlspolicy

import (
	"crypto/tls"
	"testing"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

func TestVersions(t *testing.T) {
	for in, want := range map[string]uint16{
		"1.2": VersionTLS12, "TLS1.3": VersionTLS13, "tls12": VersionTLS12, "TLSv1.0": VersionTLS10,
		"TLS 1.1": VersionTLS11, "SSLv3": VersionSSL30, "sslv2": VersionSSL20,
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %04x, %v; want %04x", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1.4", "ssl1.0", "tls"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
	for id, want := range map[uint16]Strength{VersionSSL20: Insecure, VersionSSL30: Insecure, VersionTLS10: Weak, VersionTLS11: Weak, VersionTLS12: Strong, VersionTLS13: Strong} {
		v, ok := VersionByID(id)
		if !ok || v.Strength != want {
			t.Errorf("%s: %v, want %v", VersionName(id), v.Strength, want)
		}
	}
	if VersionName(0x7F1C) != "0x7F1C" || VersionName(tls.VersionTLS13) != "TLS 1.3" {
		t.Errorf("VersionName: %q %q", VersionName(0x7F1C), VersionName(tls.VersionTLS13))
	}
}

func TestGroups(t *testing.T) {
	// Every group crypto/tls implements is named alike here.
	for _, id := range []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521} {
		g, ok := GroupByName(id.String())
		if !ok || g.ID != id {
			t.Errorf("crypto/tls group %v (%d): registry finds %v", id, id, g.ID)
		}
	}
	g, _ := GroupByID(0x11EC)
	if g.Name != "X25519MLKEM768" || !g.PostQuantum || g.Strength() != Strong {
		t.Errorf("0x11EC: %+v", g)
	}
	for id, want := range map[tls.CurveID]Strength{19: Insecure, 1: Insecure, 256: Acceptable, 257: Strong, 29: Strong, 0x6399: Acceptable, 0xFF01: Insecure} {
		g, _ := GroupByID(id)
		if g.Strength() != want {
			t.Errorf("%s: %v, want %v", GroupName(id), g.Strength(), want)
		}
	}
	seen := map[tls.CurveID]bool{}
	for _, g := range Groups() {
		if seen[g.ID] {
			t.Errorf("duplicate group %d", g.ID)
		}
		seen[g.ID] = true
	}
	if GroupName(0x2A2A) != "GREASE 0x2A2A" {
		t.Errorf("GroupName(0x2A2A) = %q", GroupName(0x2A2A))
	}
}

func TestSignatureSchemes(t *testing.T) {
	for id, want := range map[tls.SignatureScheme]string{
		tls.PKCS1WithSHA1: "rsa_pkcs1_sha1", tls.PKCS1WithSHA256: "rsa_pkcs1_sha256",
		tls.ECDSAWithP256AndSHA256: "ecdsa_secp256r1_sha256", tls.ECDSAWithP521AndSHA512: "ecdsa_secp521r1_sha512",
		tls.PSSWithSHA256: "rsa_pss_rsae_sha256", tls.PSSWithSHA512: "rsa_pss_rsae_sha512",
		tls.Ed25519: "ed25519", tls.ECDSAWithSHA1: "ecdsa_sha1",
	} {
		if got := SignatureSchemeName(id); got != want {
			t.Errorf("0x%04X: %q, want %q", uint16(id), got, want)
		}
	}
	for name, want := range map[string]Strength{"rsa_pkcs1_sha1": Insecure, "rsa_pkcs1_md5": Insecure, "dsa_sha256": Weak, "rsa_pss_rsae_sha256": Strong, "mldsa65": Strong} {
		s, ok := SignatureSchemeByName(name)
		if !ok || s.Strength() != want {
			t.Errorf("%s: %v, want %v", name, s.Strength(), want)
		}
	}
}

func TestGREASE(t *testing.T) {
	n := 0
	for v := 0; v <= 0xFFFF; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if byte(v>>8) != byte(v) || v&0x0F != 0x0A {
				t.Errorf("0x%04X is not a GREASE value", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, want 16", n)
	}
}

func TestStrengthText(t *testing.T) {
	for _, s := range []Strength{Insecure, Weak, Acceptable, Strong} {
		b, _ := s.MarshalText()
		var back Strength
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v round-trips to %v (%v)", s, back, err)
		}
	}
	var s Strength
	if s.UnmarshalText([]byte("great")) == nil {
		t.Error("unknown strength name accepted")
	}
}

func TestSSLv2CipherKinds(t *testing.T) {
	k, ok := SSLv2CipherKindByID(0x0700C0)
	if !ok || k.OpenSSLName != "DES-CBC3-MD5" || k.KeyBits != 168 {
		t.Errorf("0x0700C0: %+v", k)
	}
	exports := 0
	for _, k := range SSLv2CipherKinds() {
		if k.Export {
			exports++
			if k.KeyBits != 40 {
				t.Errorf("%s: export with %d bits", k.Name, k.KeyBits)
			}
		}
	}
	if exports != 2 {
		t.Errorf("%d SSLv2 export kinds, want 2", exports)
	}
}

func TestKeyStrength(t *testing.T) {
	for bits, want := range map[int]Strength{512: Insecure, 1023: Insecure, 1024: Weak, 2048: Acceptable, 3072: Strong, 4096: Strong} {
		if got := ModulusStrength(bits); got != want {
			t.Errorf("modulus %d: %v, want %v", bits, got, want)
		}
	}
	for bits, want := range map[int]Strength{160: Insecure, 192: Insecure, 224: Acceptable, 256: Strong, 521: Strong} {
		if got := CurveStrength(bits); got != want {
			t.Errorf("curve %d: %v, want %v", bits, got, want)
		}
	}
}

func TestPublicKeyStrength(t *testing.T) {
	for kt, want := range map[testpki.KeyType]Strength{
		testpki.RSA1024: Weak, testpki.RSA2048: Acceptable, testpki.RSA4096: Strong,
		testpki.ECDSAP256: Strong, testpki.ECDSAP384: Strong, testpki.Ed25519: Strong,
	} {
		got, desc := PublicKeyStrength(testpki.NewKey(t, kt).Public())
		if got != want || desc == "" {
			t.Errorf("%v: %v %q, want %v", kt, got, desc, want)
		}
	}
}
