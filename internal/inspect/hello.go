package inspect

import (
	"encoding/hex"

	"github.com/tlsgate/tlsgate/internal/wire"
)

func extensionList(exts []wire.Extension) []ExtensionInfo {
	out := []ExtensionInfo{}
	for _, e := range exts {
		out = append(out, ExtensionInfo{ID: uint16(e.Type), Name: e.Type.String(), Length: len(e.Data)})
	}
	return out
}

func clientHelloInfo(ch *wire.ClientHello) *ClientHelloInfo {
	info := &ClientHelloInfo{
		LegacyVersion:       versionName(ch.Version),
		Random:              hex.EncodeToString(ch.Random[:]),
		SessionID:           hex.EncodeToString(ch.SessionID),
		CipherSuites:        []Code{},
		Groups:              []Group{},
		KeyShares:           []Group{},
		SignatureAlgorithms: []Code{},
		ALPN:                []string{},
		Extensions:          extensionList(ch.Extensions),
	}
	if vs, err := ch.SupportedVersions(); err == nil {
		for _, v := range vs {
			info.Versions = append(info.Versions, versionName(v))
		}
	}
	for _, s := range ch.CipherSuites {
		info.CipherSuites = append(info.CipherSuites, suiteCode(s))
	}
	info.ServerName, _ = ch.ServerName()
	if e, ok := ch.Extension(wire.ExtSupportedGroups); ok {
		gs, _ := wire.ParseSupportedGroups(e.Data)
		for _, g := range gs {
			info.Groups = append(info.Groups, groupOf(g))
		}
	}
	if e, ok := ch.Extension(wire.ExtKeyShare); ok {
		ks, _ := wire.ParseKeyShares(e.Data)
		for _, k := range ks {
			info.KeyShares = append(info.KeyShares, groupOf(k.Group))
		}
	}
	if e, ok := ch.Extension(wire.ExtSignatureAlgorithms); ok {
		ss, _ := wire.ParseSignatureAlgorithms(e.Data)
		for _, s := range ss {
			info.SignatureAlgorithms = append(info.SignatureAlgorithms, schemeCode(s))
		}
	}
	if e, ok := ch.Extension(wire.ExtALPN); ok {
		info.ALPN, _ = wire.ParseALPN(e.Data)
	}
	return info
}

func serverHelloInfo(sh *wire.ServerHello, resumed bool) *ServerHelloInfo {
	info := &ServerHelloInfo{
		Random:      hex.EncodeToString(sh.Random[:]),
		SessionID:   hex.EncodeToString(sh.SessionID),
		CipherSuite: suiteCode(sh.CipherSuite),
		Resumed:     resumed,
		Extensions:  extensionList(sh.Extensions),
	}
	v, _ := sh.SelectedVersion()
	info.Version = versionName(v)
	if e, ok := sh.Extension(wire.ExtKeyShare); ok {
		if ks, err := wire.ParseServerKeyShare(e.Data); err == nil {
			g := groupOf(ks.Group)
			info.Group = &g
		}
	}
	if e, ok := sh.Extension(wire.ExtALPN); ok {
		if p, err := wire.ParseALPN(e.Data); err == nil && len(p) == 1 {
			info.ALPN = p[0]
		}
	}
	if d := sh.DowngradeSentinel(); d != 0 {
		info.Downgrade = versionName(d)
	}
	return info
}

func helloRetryInfo(sh *wire.ServerHello) *HelloRetryInfo {
	info := &HelloRetryInfo{CipherSuite: suiteCode(sh.CipherSuite)}
	if e, ok := sh.Extension(wire.ExtKeyShare); ok {
		if g, err := wire.ParseHRRKeyShare(e.Data); err == nil {
			gg := groupOf(g)
			info.Group = &gg
		}
	}
	return info
}
