package scan

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// chunkSize is how many suites one enumeration chain offers. Chains run in
// parallel, and a short hello also avoids servers that choke on long ones.
const chunkSize = 96

// accepted is one suite a server chose, with the exchange that showed it.
type acceptedSuite struct {
	id uint16
	ex *exchange
}

func (rn *run) versionSteps() []step {
	steps := []step{{"SSL 2.0", probeSSLv2}}
	for _, v := range []uint16{VersionSSL30, VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13} {
		steps = append(steps, step{VersionName(v), func(ctx context.Context, rn *run) { probeVersion(ctx, rn, v) }})
	}
	return steps
}

func (rn *run) detailSteps() []step {
	return []step{
		{"groups", probeGroups},
		{"signature algorithms", probeSignatureSchemes},
		{"fallback SCSV", probeFallbackSCSV},
		{"compression", probeCompression},
		{"heartbleed", probeHeartbleed},
		{"CCS injection", probeCCSInjection},
		{"certificate", probeCertificateFallback},
		{"session ID resumption", probeSessionID},
	}
}

func probeSSLv2(ctx context.Context, rn *run) {
	sh, err := rn.helloSSLv2(ctx)
	p := ProtocolResult{Version: VersionSSL20, Name: VersionName(VersionSSL20)}
	if err != nil {
		rn.note("SSL 2.0 probe: %v", err)
	}
	if sh != nil {
		p.Supported = true
		for _, spec := range sh.CipherSpecs {
			p.Suites = append(p.Suites, sslv2Suite(spec))
		}
	}
	rn.update(func(r *Result) { r.Protocols = append(r.Protocols, p) })
}

// probeVersion finds out whether version v is accepted and, if so, every
// suite the server accepts with it, by offering the candidates, removing
// the one the server picks, and offering the rest again until it refuses.
func probeVersion(ctx context.Context, rn *run, v uint16) {
	p := ProtocolResult{Version: v, Name: VersionName(v)}
	defer func() { rn.update(func(r *Result) { r.Protocols = append(r.Protocols, p) }) }()

	cands := candidateSuites(v)
	var mu sync.Mutex
	var found []acceptedSuite
	var wg sync.WaitGroup
	for start := 0; start < len(cands); start += chunkSize {
		chunk := cands[start:min(start+chunkSize, len(cands))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := rn.enumerate(ctx, v, chunk)
			mu.Lock()
			found = append(found, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(found) == 0 {
		return
	}
	p.Supported = true
	sort.Slice(found, func(i, j int) bool { return found[i].id < found[j].id })
	byID := map[uint16]*exchange{}
	var ids []uint16
	for _, a := range found {
		byID[a.id] = a.ex
		ids = append(ids, a.id)
	}

	// Server preference: the same pick from a list and from its reverse.
	if len(ids) >= 2 {
		a, errA := rn.hello(ctx, helloSpec{version: v, suites: ids})
		b, errB := rn.hello(ctx, helloSpec{version: v, suites: reversed(ids)})
		if errA == nil && errB == nil && a.accepted() && b.accepted() {
			pref := a.hello.CipherSuite == b.hello.CipherSuite
			p.ServerPreference = &pref
			if pref {
				ids = rn.preferenceOrder(ctx, v, ids)
			}
		}
	}
	for _, id := range ids {
		s := describeSuite(id)
		if ex := byID[id]; ex != nil {
			rn.observeKeyExchange(&s, v, ex)
		}
		p.Suites = append(p.Suites, s)
	}
	first := byID[ids[0]]
	certReq := false
	for _, ex := range byID {
		certReq = certReq || ex.certReq
	}
	rn.update(func(r *Result) {
		r.ClientCertificateRequested = r.ClientCertificateRequested || certReq
		if v <= VersionTLS12 && first != nil && first.hello != nil {
			_, ri := first.hello.Extension(wire.ExtRenegotiationInfo)
			if r.SecureRenegotiation == nil || (ri && v > VersionSSL30) {
				r.SecureRenegotiation = &ri
			}
		}
	})
	rn.keepRawCerts(v, byID)
}

// enumerate offers suites for version v until the server refuses, and
// returns what it picked. It makes at most len(suites)+1 connections.
func (rn *run) enumerate(ctx context.Context, v uint16, suites []uint16) []acceptedSuite {
	remaining := append([]uint16(nil), suites...)
	var out []acceptedSuite
	for len(remaining) > 0 && ctx.Err() == nil {
		ex, err := rn.hello(ctx, helloSpec{version: v, suites: remaining, readToDone: true})
		if err != nil {
			rn.note("%s suite probe: %v", VersionName(v), err)
			return out
		}
		if !ex.accepted() || ex.version != v {
			return out
		}
		chosen := ex.hello.CipherSuite
		i := slices.Index(remaining, chosen)
		if i < 0 {
			rn.note("%s: the server picked suite 0x%04X, which was not offered", VersionName(v), chosen)
			return out
		}
		out = append(out, acceptedSuite{id: chosen, ex: ex})
		remaining = slices.Delete(remaining, i, i+1)
	}
	return out
}

// preferenceOrder lists the accepted suites in the server's order by asking
// repeatedly for its favourite among those left.
func (rn *run) preferenceOrder(ctx context.Context, v uint16, ids []uint16) []uint16 {
	remaining := append([]uint16(nil), ids...)
	var order []uint16
	for len(remaining) > 1 && ctx.Err() == nil {
		ex, err := rn.hello(ctx, helloSpec{version: v, suites: remaining})
		if err != nil || !ex.accepted() {
			break
		}
		i := slices.Index(remaining, ex.hello.CipherSuite)
		if i < 0 {
			break
		}
		order = append(order, remaining[i])
		remaining = slices.Delete(remaining, i, i+1)
	}
	return append(order, remaining...)
}

func reversed(s []uint16) []uint16 {
	out := append([]uint16(nil), s...)
	slices.Reverse(out)
	return out
}

// observeKeyExchange records the ephemeral key the server sent for a suite:
// the DH prime size or the curve (TLS 1.2 and earlier: ServerKeyExchange;
// TLS 1.3: the key_share or HelloRetryRequest group).
func (rn *run) observeKeyExchange(s *Suite, v uint16, ex *exchange) {
	if v == VersionTLS13 && ex.hello != nil {
		if e, ok := ex.hello.Extension(wire.ExtKeyShare); ok {
			var g uint16
			if ex.hello.IsHelloRetryRequest() {
				g, _ = wire.ParseHRRKeyShare(e.Data)
			} else if ks, err := wire.ParseServerKeyShare(e.Data); err == nil {
				g = ks.Group
			}
			if g != 0 {
				s.Group, s.KeyExchangeBits = groupInfo(g)
			}
		}
		return
	}
	if ex.ske == nil {
		return
	}
	switch s.KeyExchange {
	case "DHE":
		if m, err := wire.ParseServerKeyExchange(ex.ske, wire.KeyExchangeDHE, v); err == nil {
			s.KeyExchangeBits = m.DHPrimeBits()
			rn.update(func(r *Result) {
				if r.DHBits == 0 || s.KeyExchangeBits < r.DHBits {
					r.DHBits = s.KeyExchangeBits
				}
			})
		}
	case "ECDHE":
		if m, err := wire.ParseServerKeyExchange(ex.ske, wire.KeyExchangeECDHE, v); err == nil {
			s.Group, s.KeyExchangeBits = groupInfo(m.Group)
		}
	}
}

// keepRawCerts keeps a certificate chain seen in a cleartext handshake, for
// servers that crypto/tls cannot complete a handshake with.
func (rn *run) keepRawCerts(v uint16, byID map[uint16]*exchange) {
	for _, ex := range byID {
		if len(ex.certs) > 0 {
			rn.mu.Lock()
			if rn.rawCerts == nil || v > rn.rawCertsVersion {
				rn.rawCerts, rn.rawCertsVersion = ex.certs, v
			}
			rn.mu.Unlock()
			return
		}
	}
}

func probeCertificateFallback(ctx context.Context, rn *run) {
	rn.mu.Lock()
	have := rn.r.Certificate != nil
	raw := rn.rawCerts
	rn.mu.Unlock()
	if have || len(raw) == 0 {
		return
	}
	var chain []*x509.Certificate
	for _, der := range raw {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			rn.note("certificate %d of the chain does not parse: %v", len(chain)+1, err)
			return
		}
		chain = append(chain, c)
	}
	host := rn.sni
	if host == "" {
		host = rn.t.Host
	}
	cr := checkCertificate(ctx, chain, host, rn.s.opts.Roots, nil, 0, rn.s.opts.Now())
	rn.update(func(r *Result) { r.Certificate = cr })
}

// legacyVersions lists the accepted versions from SSL 3.0 to TLS 1.2,
// newest first, with the suites accepted for each.
func (rn *run) legacyVersions() []ProtocolResult {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	var out []ProtocolResult
	for _, p := range rn.r.Protocols {
		if p.Supported && p.Version >= VersionSSL30 && p.Version <= VersionTLS12 {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out
}

func suiteIDs(p ProtocolResult) []uint16 {
	var ids []uint16
	for _, s := range p.Suites {
		ids = append(ids, s.ID)
	}
	return ids
}

// probeGroups finds the key-exchange groups: in TLS 1.3 by offering no key
// share so that the server names its pick in a HelloRetryRequest, in TLS 1.2
// by reading the curve of the ECDHE key exchange.
func probeGroups(ctx context.Context, rn *run) {
	found := map[uint16][]string{}
	var order []uint16
	add := func(g uint16, v uint16) {
		if _, ok := found[g]; !ok {
			order = append(order, g)
		}
		found[g] = append(found[g], VersionName(v))
	}
	if rn.supported(VersionTLS13) {
		remaining := defaultGroups()
		for len(remaining) > 0 && ctx.Err() == nil {
			ex, err := rn.hello(ctx, helloSpec{version: VersionTLS13, suites: candidateSuites(VersionTLS13), groups: remaining, noKeyShare: true})
			if err != nil || !ex.accepted() || !ex.hello.IsHelloRetryRequest() {
				break
			}
			e, ok := ex.hello.Extension(wire.ExtKeyShare)
			if !ok {
				break
			}
			g, err := wire.ParseHRRKeyShare(e.Data)
			i := slices.Index(remaining, g)
			if err != nil || i < 0 {
				break
			}
			add(g, VersionTLS13)
			remaining = slices.Delete(remaining, i, i+1)
		}
	}
	for _, p := range rn.legacyVersions() {
		var ecdhe []uint16
		for _, s := range p.Suites {
			if s.KeyExchange == "ECDHE" {
				ecdhe = append(ecdhe, s.ID)
			}
		}
		if len(ecdhe) == 0 {
			continue
		}
		var remaining []uint16
		for _, g := range defaultGroups() {
			if isECGroup(g) {
				remaining = append(remaining, g)
			}
		}
		for len(remaining) > 0 && ctx.Err() == nil {
			ex, err := rn.hello(ctx, helloSpec{version: p.Version, suites: ecdhe, groups: remaining, readToDone: true})
			if err != nil || !ex.accepted() || ex.ske == nil {
				break
			}
			m, err := wire.ParseServerKeyExchange(ex.ske, wire.KeyExchangeECDHE, p.Version)
			if err != nil {
				break
			}
			i := slices.Index(remaining, m.Group)
			if i < 0 {
				break
			}
			add(m.Group, p.Version)
			remaining = slices.Delete(remaining, i, i+1)
		}
		break // the newest legacy version speaks for the others
	}
	var groups []Group
	for _, g := range order {
		name, bits := groupInfo(g)
		groups = append(groups, Group{ID: g, Name: name, Bits: bits, Versions: found[g]})
	}
	rn.update(func(r *Result) { r.Groups = groups })
}

func (rn *run) supported(v uint16) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.r.Supported(v)
}

// probeSignatureSchemes lists the schemes the server signs its TLS 1.2 key
// exchange with, by removing each one it uses from the offer.
func probeSignatureSchemes(ctx context.Context, rn *run) {
	var suites []uint16
	for _, p := range rn.legacyVersions() {
		if p.Version != VersionTLS12 {
			continue
		}
		for _, s := range p.Suites {
			if (s.KeyExchange == "ECDHE" || s.KeyExchange == "DHE") && !s.Anonymous {
				suites = append(suites, s.ID)
			}
		}
	}
	if len(suites) == 0 {
		return
	}
	remaining := defaultSignatureSchemes()
	var names []string
	for len(remaining) > 0 && ctx.Err() == nil {
		ex, err := rn.hello(ctx, helloSpec{version: VersionTLS12, suites: suites, sigSchemes: remaining, readToDone: true})
		if err != nil || !ex.accepted() || ex.ske == nil {
			break
		}
		d := describeSuite(ex.hello.CipherSuite)
		kind := wire.KeyExchangeECDHE
		if d.KeyExchange == "DHE" {
			kind = wire.KeyExchangeDHE
		}
		m, err := wire.ParseServerKeyExchange(ex.ske, kind, VersionTLS12)
		if err != nil {
			break
		}
		i := slices.Index(remaining, m.SignatureAlgorithm)
		if i < 0 {
			break // the server fell back to a scheme we did not offer
		}
		names = append(names, schemeName(m.SignatureAlgorithm))
		remaining = slices.Delete(remaining, i, i+1)
	}
	rn.update(func(r *Result) { r.SignatureSchemes = names })
}

// probeFallbackSCSV offers the second-highest version with
// TLS_FALLBACK_SCSV: a server that supports it must refuse with
// inappropriate_fallback (RFC 7507).
func probeFallbackSCSV(ctx context.Context, rn *run) {
	var vs []uint16
	rn.mu.Lock()
	for _, p := range rn.r.Protocols {
		if p.Supported && p.Version >= VersionSSL30 {
			vs = append(vs, p.Version)
		}
	}
	rn.mu.Unlock()
	if len(vs) < 2 {
		return // nothing to fall back to
	}
	slices.Sort(vs)
	v := vs[len(vs)-2]
	var suites []uint16
	for _, p := range rn.legacyVersions() {
		if p.Version == v {
			suites = suiteIDs(p)
		}
	}
	if len(suites) == 0 {
		return
	}
	ex, err := rn.hello(ctx, helloSpec{version: v, suites: suites, fallback: true})
	if err != nil {
		rn.note("fallback SCSV probe: %v", err)
		return
	}
	ok := !ex.accepted() && ex.alert != nil && ex.alert.Description == wire.AlertInappropriateFallback
	rn.update(func(r *Result) { r.FallbackSCSV = &ok })
}

// probeCompression offers DEFLATE next to no compression (CRIME).
func probeCompression(ctx context.Context, rn *run) {
	lv := rn.legacyVersions()
	if len(lv) == 0 {
		return
	}
	for _, p := range lv[:1] {
		ex, err := rn.hello(ctx, helloSpec{version: p.Version, suites: suiteIDs(p), compression: true})
		if err != nil || !ex.accepted() {
			return
		}
		if ex.hello.CompressionMethod == 1 {
			rn.update(func(r *Result) { r.Compression = []string{"DEFLATE"} })
		}
	}
}

// shortWait bounds how long the Heartbleed and CCS probes wait for an
// answer that a safe server never sends.
func (rn *run) shortWait() time.Duration { return min(rn.s.opts.Timeout, 2*time.Second) }

// probeHeartbleed sends the heartbeat request that testssl.sh sends: one
// that claims 16384 bytes of payload but carries none. A server that answers
// with a heartbeat response has read past the request (CVE-2014-0160). The
// probe never completes a handshake.
func probeHeartbleed(ctx context.Context, rn *run) {
	vuln := Vulnerability{ID: "heartbleed", Name: "Heartbleed", CVE: []string{"CVE-2014-0160"}, Status: StatusUnknown}
	defer func() { rn.update(func(r *Result) { r.Vulnerabilities = append(r.Vulnerabilities, vuln) }) }()
	lv := rn.legacyVersions()
	if len(lv) == 0 {
		vuln.Status, vuln.Evidence = StatusNotVulnerable, "no SSL 3.0 to TLS 1.2 support: TLS 1.3 has no heartbeat"
		return
	}
	p := lv[0]
	ex, err := rn.hello(ctx, helloSpec{version: p.Version, suites: suiteIDs(p), heartbeat: true, readToDone: true, keepOpen: true})
	if ex != nil && ex.conn != nil {
		defer ex.conn.Close()
	}
	if err != nil || !ex.accepted() {
		vuln.Evidence = fmt.Sprintf("the %s handshake for the probe failed", VersionName(p.Version))
		return
	}
	_, hb := ex.hello.Extension(wire.ExtHeartbeat)
	rn.update(func(r *Result) { r.Heartbeat = &hb })
	if !hb {
		vuln.Status, vuln.Evidence = StatusNotVulnerable, "the server does not offer the heartbeat extension"
		return
	}
	req := wire.FragmentRecords(wire.TypeHeartbeat, p.Version, []byte{1, 0x40, 0x00}, 0)
	if _, err := ex.conn.Write(req); err != nil {
		vuln.Status, vuln.Evidence = StatusNotVulnerable, "the server closed the connection on the malformed heartbeat request"
		return
	}
	_ = ex.conn.SetReadDeadline(time.Now().Add(rn.shortWait()))
	rr := wire.NewRecordReader(ex.conn)
	for i := 0; i < 8; i++ {
		rec, err := rr.ReadRecord()
		if err != nil {
			vuln.Status, vuln.Evidence = StatusNotVulnerable, "no heartbeat response to a request claiming 16384 bytes of payload"
			return
		}
		switch rec.Type {
		case wire.TypeHeartbeat:
			if len(rec.Fragment) > 3 {
				vuln.Status = StatusVulnerable
				vuln.Evidence = fmt.Sprintf("the server answered a heartbeat carrying no payload with %d bytes of its memory", len(rec.Fragment))
				return
			}
		case wire.TypeAlert:
			vuln.Status, vuln.Evidence = StatusNotVulnerable, "the server rejected the malformed heartbeat request with an alert"
			return
		}
	}
	vuln.Status, vuln.Evidence = StatusNotVulnerable, "no heartbeat response to a request claiming 16384 bytes of payload"
}

// probeCCSInjection sends ChangeCipherSpec right after the server's hello,
// before any key exists, the way testssl.sh does. A patched server refuses
// it with unexpected_message; a vulnerable one accepts it and then fails to
// decrypt the second one (CVE-2014-0224).
func probeCCSInjection(ctx context.Context, rn *run) {
	vuln := Vulnerability{ID: "ccs_injection", Name: "CCS injection", CVE: []string{"CVE-2014-0224"}, Status: StatusUnknown}
	defer func() { rn.update(func(r *Result) { r.Vulnerabilities = append(r.Vulnerabilities, vuln) }) }()
	lv := rn.legacyVersions()
	if len(lv) == 0 {
		vuln.Status, vuln.Evidence = StatusNotVulnerable, "no SSL 3.0 to TLS 1.2 support"
		return
	}
	p := lv[0]
	ex, err := rn.hello(ctx, helloSpec{version: p.Version, suites: suiteIDs(p), readToDone: true, keepOpen: true})
	if ex != nil && ex.conn != nil {
		defer ex.conn.Close()
	}
	if err != nil || !ex.accepted() || !ex.helloEnd {
		vuln.Evidence = fmt.Sprintf("the %s handshake for the probe did not reach ServerHelloDone", VersionName(p.Version))
		return
	}
	rr := wire.NewRecordReader(ex.conn)
	for round := 1; round <= 2; round++ {
		if _, err := ex.conn.Write(wire.ChangeCipherSpecRecord(p.Version)); err != nil {
			vuln.Status, vuln.Evidence = StatusNotVulnerable, fmt.Sprintf("the server closed the connection on early ChangeCipherSpec #%d", round)
			return
		}
		_ = ex.conn.SetReadDeadline(time.Now().Add(rn.shortWait()))
		rec, err := rr.ReadRecord()
		if err != nil {
			if isTimeout(err) && round == 1 {
				continue // silently accepted: send the second one
			}
			vuln.Status, vuln.Evidence = StatusNotVulnerable, fmt.Sprintf("no answer to early ChangeCipherSpec #%d", round)
			return
		}
		if rec.Type != wire.TypeAlert {
			vuln.Status, vuln.Evidence = StatusNotVulnerable, fmt.Sprintf("the server answered early ChangeCipherSpec #%d with a %s record", round, rec.Type)
			return
		}
		a, err := wire.ParseAlert(rec.Fragment)
		if err != nil {
			vuln.Evidence = "undecodable alert after early ChangeCipherSpec"
			return
		}
		switch a.Description {
		case wire.AlertBadRecordMAC, wire.AlertDecryptionFailed:
			vuln.Status = StatusVulnerable
			vuln.Evidence = fmt.Sprintf("the server accepted ChangeCipherSpec before the key exchange and then reported %s", a.Description)
		default:
			vuln.Status = StatusNotVulnerable
			vuln.Evidence = fmt.Sprintf("the server rejected early ChangeCipherSpec #%d with %s", round, a.Description)
		}
		return
	}
	vuln.Status, vuln.Evidence = StatusNotVulnerable, "no answer to two early ChangeCipherSpec messages"
}
