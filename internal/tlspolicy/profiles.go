package tlspolicy

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// Profile is a named serving policy: which protocol versions, TLS 1.2
// cipher suites and key-exchange groups a tlsgate server accepts. TLS 1.3
// suites are not configurable in crypto/tls: all three it implements
// (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) are AEAD and always on.
type Profile struct {
	Name        string
	Description string
	MinVersion  uint16
	MaxVersion  uint16
	// CipherSuites are the TLS 1.0-1.2 suites in preference order (crypto/tls
	// applies its own order, which is equally safe); empty when MinVersion is
	// TLS 1.3.
	CipherSuites []uint16
	// Groups are the key-exchange groups, hybrid post-quantum first.
	Groups []tls.CurveID
}

// DefaultProfileName is the profile a server uses unless configured otherwise.
const DefaultProfileName = "intermediate"

// preferredGroups puts the post-quantum hybrid first, then the classical
// curves every client has.
var preferredGroups = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// ecdheAEAD are the TLS 1.2 suites of Mozilla's "intermediate" server-side
// guideline that crypto/tls implements (it has no DHE): ECDHE key exchange,
// AEAD records.
var ecdheAEAD = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

var profiles = []Profile{
	{
		Name:        "modern",
		Description: "TLS 1.3 only: every connection has forward secrecy and AEAD; for clients from 2020 on",
		MinVersion:  VersionTLS13, MaxVersion: VersionTLS13,
		Groups: preferredGroups,
	},
	{
		Name:        "intermediate",
		Description: "TLS 1.3 and TLS 1.2 with ECDHE and AEAD suites only (Mozilla intermediate); the default",
		MinVersion:  VersionTLS12, MaxVersion: VersionTLS13,
		CipherSuites: ecdheAEAD,
		Groups:       append(slices.Clone(preferredGroups), tls.CurveP384),
	},
	{
		Name: "old",
		Description: "adds TLS 1.0/1.1, CBC suites and static RSA key exchange for legacy clients; " +
			"no forward secrecy for some clients; opt in only when such clients must connect",
		MinVersion: VersionTLS10, MaxVersion: VersionTLS13,
		CipherSuites: append(slices.Clone(ecdheAEAD),
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		),
		Groups: append(slices.Clone(preferredGroups), tls.CurveP384, tls.CurveP521),
	},
}

// Profiles returns the built-in profiles, strictest first.
func Profiles() []Profile {
	out := make([]Profile, len(profiles))
	for i, p := range profiles {
		out[i] = p.clone()
	}
	return out
}

// ProfileNames lists the built-in profile names, strictest first.
func ProfileNames() []string {
	var n []string
	for _, p := range profiles {
		n = append(n, p.Name)
	}
	return n
}

// ProfileByName returns the named built-in profile; "" means the default.
func ProfileByName(name string) (Profile, error) {
	if name == "" {
		name = DefaultProfileName
	}
	for _, p := range profiles {
		if strings.EqualFold(p.Name, strings.TrimSpace(name)) {
			return p.clone(), nil
		}
	}
	return Profile{}, fmt.Errorf("unknown TLS profile %q: use one of %s", name, strings.Join(ProfileNames(), ", "))
}

// DefaultProfile returns the intermediate profile.
func DefaultProfile() Profile {
	p, _ := ProfileByName(DefaultProfileName)
	return p
}

func (p Profile) clone() Profile {
	p.CipherSuites = slices.Clone(p.CipherSuites)
	p.Groups = slices.Clone(p.Groups)
	return p
}

// TLSConfig returns a new tls.Config skeleton carrying the profile: versions,
// suites, groups, and renegotiation refused. Callers add certificates,
// client authentication and ALPN.
func (p Profile) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:       p.MinVersion,
		MaxVersion:       p.MaxVersion,
		CipherSuites:     slices.Clone(p.CipherSuites),
		CurvePreferences: slices.Clone(p.Groups),
		// Servers in crypto/tls never renegotiate; this makes clients built
		// from the same skeleton refuse a server's request too.
		Renegotiation: tls.RenegotiateNever,
	}
}

// Suites returns the cipher suites the profile can negotiate: the configured
// TLS 1.0-1.2 suites, then the TLS 1.3 suites when TLS 1.3 is allowed.
func (p Profile) Suites() []CipherSuite {
	var out []CipherSuite
	if p.MinVersion < VersionTLS13 {
		for _, id := range p.CipherSuites {
			if c, ok := CipherSuiteByID(id); ok {
				out = append(out, c)
			}
		}
	}
	if p.MaxVersion >= VersionTLS13 {
		for _, c := range tls.CipherSuites() {
			if slices.Contains(c.SupportedVersions, tls.VersionTLS13) {
				cs, _ := CipherSuiteByID(c.ID)
				out = append(out, cs)
			}
		}
	}
	return out
}

// WeakerThan lists, in words, every way p accepts less than q: older
// versions, suites outside q's set, or weaker groups. Empty means p is at
// least as strict as q.
func (p Profile) WeakerThan(q Profile) []string {
	var why []string
	if p.MinVersion < q.MinVersion {
		why = append(why, fmt.Sprintf("allows %s (%s allows %s and later)", VersionName(p.MinVersion), q.Name, VersionName(q.MinVersion)))
	}
	if p.MinVersion < VersionTLS13 {
		var extra []string
		for _, id := range p.CipherSuites {
			if q.MinVersion >= VersionTLS13 || !slices.Contains(q.CipherSuites, id) {
				extra = append(extra, CipherSuiteName(id))
			}
		}
		if len(extra) > 0 {
			why = append(why, fmt.Sprintf("allows cipher suites %s allows not: %s", q.Name, strings.Join(extra, ", ")))
		}
	}
	weakest := Strong
	for _, id := range q.Groups {
		if g, ok := GroupByID(id); ok && g.Strength() < weakest {
			weakest = g.Strength()
		}
	}
	for _, id := range p.Groups {
		if g, ok := GroupByID(id); !ok || g.Strength() < weakest {
			why = append(why, fmt.Sprintf("allows group %s, weaker than any %s allows", GroupName(id), q.Name))
		}
	}
	return why
}

// WeakerThanDefault reports whether p accepts connections the default
// profile refuses, and how, so that a server can warn at start-up.
func (p Profile) WeakerThanDefault() (bool, []string) {
	why := p.WeakerThan(DefaultProfile())
	return len(why) > 0, why
}

// Validate checks a profile built from configuration: versions crypto/tls
// speaks in a sane order, suites crypto/tls implements and this registry
// does not call insecure, groups crypto/tls implements.
func (p Profile) Validate() error {
	if p.MinVersion < VersionTLS10 || p.MaxVersion > VersionTLS13 || p.MinVersion > p.MaxVersion {
		return fmt.Errorf("TLS profile %q: versions %s to %s: use a range within TLS 1.0 to TLS 1.3", p.Name, VersionName(p.MinVersion), VersionName(p.MaxVersion))
	}
	implemented := map[uint16]bool{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		implemented[c.ID] = true
	}
	for _, id := range p.CipherSuites {
		c, ok := CipherSuiteByID(id)
		switch {
		case !ok || !implemented[id]:
			return fmt.Errorf("TLS profile %q: cipher suite %s is not implemented by tlsgate's TLS stack", p.Name, CipherSuiteName(id))
		case c.Strength() == Insecure:
			return fmt.Errorf("TLS profile %q: cipher suite %s is insecure (%s): remove it", p.Name, c.Name, strings.Join(c.Concerns(), "; "))
		}
	}
	if p.MinVersion < VersionTLS13 && len(p.CipherSuites) == 0 {
		return fmt.Errorf("TLS profile %q: allows %s but lists no cipher suites for it", p.Name, VersionName(p.MinVersion))
	}
	for _, id := range p.Groups {
		switch id {
		case tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521:
		default:
			return fmt.Errorf("TLS profile %q: group %s is not implemented by tlsgate's TLS stack", p.Name, GroupName(id))
		}
	}
	return nil
}
