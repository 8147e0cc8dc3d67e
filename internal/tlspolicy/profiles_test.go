package tlspolicy

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

func TestIntermediateIsECDHEAndAEADOnly(t *testing.T) {
	p := DefaultProfile()
	if p.Name != "intermediate" || p.MinVersion != VersionTLS12 || p.MaxVersion != VersionTLS13 {
		t.Fatalf("default profile %s %s-%s", p.Name, VersionName(p.MinVersion), VersionName(p.MaxVersion))
	}
	for _, c := range p.Suites() {
		if !c.IsAEAD() || !c.ForwardSecrecy || (!c.IsTLS13() && c.KeyExchange != KxECDHE) {
			t.Errorf("%s: intermediate allows a suite that is not ECDHE+AEAD", c.Name)
		}
		if c.Strength() != Strong {
			t.Errorf("%s: %v in the default profile", c.Name, c.Strength())
		}
	}
	if len(p.Suites()) != 9 {
		t.Errorf("intermediate negotiates %d suites, want 6 TLS 1.2 + 3 TLS 1.3", len(p.Suites()))
	}
}

func TestProfilesValidateAndCompare(t *testing.T) {
	for _, p := range Profiles() {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if p.Groups[0] != tls.X25519MLKEM768 || p.Groups[1] != tls.X25519 || p.Groups[2] != tls.CurveP256 {
			t.Errorf("%s: groups %v, want X25519MLKEM768, X25519, P-256 first", p.Name, p.Groups)
		}
		c := p.TLSConfig()
		if c.MinVersion != p.MinVersion || c.MaxVersion != p.MaxVersion || c.Renegotiation != tls.RenegotiateNever {
			t.Errorf("%s: config does not carry the profile", p.Name)
		}
	}
	if weaker, why := mustProfile(t, "modern").WeakerThanDefault(); weaker {
		t.Errorf("modern reported weaker than default: %v", why)
	}
	if weaker, _ := mustProfile(t, "intermediate").WeakerThanDefault(); weaker {
		t.Error("default reported weaker than itself")
	}
	weaker, why := mustProfile(t, "old").WeakerThanDefault()
	if !weaker || !strings.Contains(strings.Join(why, "\n"), "TLS 1.0") || !strings.Contains(strings.Join(why, "\n"), "TLS_RSA_WITH_AES_128_CBC_SHA") {
		t.Errorf("old: weaker=%v %v, want TLS 1.0 and the CBC suites named", weaker, why)
	}
	if _, err := ProfileByName("bogus"); err == nil || !strings.Contains(err.Error(), "modern, intermediate, old") {
		t.Errorf("unknown profile error: %v", err)
	}
	if p, err := ProfileByName(""); err != nil || p.Name != DefaultProfileName {
		t.Errorf("empty profile name: %v %v", p.Name, err)
	}
	// The returned profile is a copy: changing it leaves the built-in alone.
	p := mustProfile(t, "intermediate")
	p.CipherSuites[0] = tls.TLS_RSA_WITH_RC4_128_SHA
	if mustProfile(t, "intermediate").CipherSuites[0] == tls.TLS_RSA_WITH_RC4_128_SHA {
		t.Error("ProfileByName shares its slices")
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "insecure") {
		t.Errorf("RC4 profile validates: %v", err)
	}
	bad := mustProfile(t, "modern")
	bad.MinVersion, bad.MaxVersion = VersionTLS13, VersionTLS12
	if bad.Validate() == nil {
		t.Error("inverted versions validate")
	}
	bad = mustProfile(t, "modern")
	bad.Groups = []tls.CurveID{tls.CurveID(19)}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "secp192r1") {
		t.Errorf("secp192r1 group: %v", err)
	}
}

func mustProfile(t *testing.T, name string) Profile {
	t.Helper()
	p, err := ProfileByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// handshake serves profile p on loopback and dials it with client; it
// returns the client's connection state or error.
func handshake(t *testing.T, p Profile, cert tls.Certificate, roots *testpki.Fixture, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvConf := p.TLSConfig()
	srvConf.Certificates = []tls.Certificate{cert}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(c, srvConf)
		s.Handshake()
		s.Close()
	}()
	defer func() { <-done }()
	client.RootCAs = roots.Roots
	client.ServerName = roots.ServerName
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: client, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}

func TestProfileHandshakes(t *testing.T) {
	ec := testpki.Good(t, testpki.ECDSAP256)
	rsa := testpki.Good(t, testpki.RSA2048)
	tls12 := func(suites ...uint16) *tls.Config {
		return &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: suites}
	}
	cases := []struct {
		profile string
		fix     *testpki.Fixture
		client  *tls.Config
		ok      bool
		version uint16
		suite   uint16
		group   tls.CurveID
	}{
		{"modern", ec, &tls.Config{}, true, tls.VersionTLS13, 0, tls.X25519MLKEM768},
		{"modern", ec, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), false, 0, 0, 0},
		{"intermediate", ec, &tls.Config{}, true, tls.VersionTLS13, 0, tls.X25519MLKEM768},
		{"intermediate", ec, &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}}, true, tls.VersionTLS13, 0, tls.CurveP256},
		{"intermediate", ec, tls12(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), true, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.X25519},
		{"intermediate", rsa, tls12(tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), true, tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.X25519},
		{"intermediate", ec, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), false, 0, 0, 0},
		{"intermediate", rsa, tls12(tls.TLS_RSA_WITH_AES_128_GCM_SHA256), false, 0, 0, 0},
		{"intermediate", ec, &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, false, 0, 0, 0},
		{"old", ec, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, true, tls.VersionTLS11, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.X25519},
		{"old", ec, tls12(tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), true, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.X25519},
		{"old", rsa, tls12(tls.TLS_RSA_WITH_AES_128_CBC_SHA), true, tls.VersionTLS12, tls.TLS_RSA_WITH_AES_128_CBC_SHA, 0},
		{"old", rsa, tls12(tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA), false, 0, 0, 0},
	}
	for _, tc := range cases {
		name := tc.profile + "/" + VersionName(tc.client.MaxVersion)
		if len(tc.client.CipherSuites) > 0 {
			name += "/" + CipherSuiteName(tc.client.CipherSuites[0])
		}
		t.Run(name, func(t *testing.T) {
			st, err := handshake(t, mustProfile(t, tc.profile), tc.fix.TLSCertificate(), tc.fix, tc.client)
			if !tc.ok {
				if err == nil {
					t.Fatalf("handshake succeeded with %s %s", VersionName(st.Version), CipherSuiteName(st.CipherSuite))
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if st.Version != tc.version {
				t.Errorf("version %s, want %s", VersionName(st.Version), VersionName(tc.version))
			}
			if tc.suite != 0 && st.CipherSuite != tc.suite {
				t.Errorf("suite %s, want %s", CipherSuiteName(st.CipherSuite), CipherSuiteName(tc.suite))
			}
			if st.CurveID != tc.group {
				t.Errorf("group %s, want %s", GroupName(st.CurveID), GroupName(tc.group))
			}
		})
	}
}
