package inspect

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// TextOptions shape the human-readable output.
type TextOptions struct {
	Color bool // ANSI colours, for a terminal only
	Wire  bool // list every record with an excerpt
}

type printer struct {
	w   io.Writer
	opt TextOptions
}

func (p *printer) style(code, s string) string {
	if !p.opt.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p *printer) head(s string)                { fmt.Fprintf(p.w, "\n%s\n", p.style("1", s)) }
func (p *printer) good(s string) string         { return p.style("32", s) }
func (p *printer) bad(s string) string          { return p.style("31;1", s) }
func (p *printer) warn(s string) string         { return p.style("33", s) }
func (p *printer) field(k string, v any)        { fmt.Fprintf(p.w, "   %-19s %v\n", k, v) }
func (p *printer) line(format string, a ...any) { fmt.Fprintf(p.w, "   "+format+"\n", a...) }

// WriteText prints the trace as numbered steps.
func (tr *Trace) WriteText(w io.Writer, opt TextOptions) {
	p := &printer{w: w, opt: opt}
	switch tr.Mode {
	case "offline":
		fmt.Fprintf(w, "Certificate chain from files\n")
		tr.writeChain(p, "1.")
		tr.writeVerification(p, "2.")
		return
	case "http":
		tr.writePlainHTTP(p)
		if opt.Wire {
			tr.writeWire(p)
		}
		return
	}
	t := tr.Target
	fmt.Fprintf(w, "Inspecting %s://%s%s", t.Scheme, hostHeader(t), t.Path)
	if t.Address != "" {
		fmt.Fprintf(w, " (%s)", t.Address)
	}
	fmt.Fprintln(w)
	if ch := tr.ClientHello; ch != nil {
		title := "1. ClientHello (client → server, in clear)"
		if ch.Retried {
			title = "1. ClientHello, sent again after a HelloRetryRequest (client → server, in clear)"
		}
		p.head(title)
		p.field("versions", strings.Join(ch.Versions, ", "))
		p.field("client random", ch.Random)
		p.list(fmt.Sprintf("cipher suites (%d)", len(ch.CipherSuites)), codeNames(ch.CipherSuites))
		p.list("groups", groupNames(p, ch.Groups))
		if len(ch.KeyShares) > 0 {
			p.list("key shares", groupNames(p, ch.KeyShares))
		}
		p.field("SNI", orNone(ch.ServerName, "none (no name sent)"))
		p.field("ALPN", orNone(strings.Join(ch.ALPN, ", "), "none"))
	}
	if h := tr.HelloRetryRequest; h != nil && h.Group != nil {
		var first []string
		for _, g := range h.FirstKeyShares {
			first = append(first, g.Name)
		}
		p.line("%s the server sent a HelloRetryRequest: none of the first hello's key shares (%s) suited it, it asked for %s; one extra round trip", p.warn("!"), strings.Join(first, ", "), h.Group.Name)
	}
	if sh := tr.ServerHello; sh != nil {
		p.head("2. ServerHello (server → client, in clear)")
		p.field("version", sh.Version)
		p.field("server random", sh.Random)
		p.field("cipher suite", sh.CipherSuite.Name)
		if sh.Group != nil {
			p.field("group", groupName(p, *sh.Group))
		}
		if sh.ALPN != "" {
			p.field("ALPN", sh.ALPN)
		}
		if sh.Resumed {
			p.field("resumption", "yes: the session was resumed, no certificate was needed")
		} else {
			p.field("resumption", "no: full handshake")
		}
		if sh.Downgrade != "" {
			p.line("%s the server random carries the TLS 1.3 downgrade sentinel (%s)", p.warn("!"), sh.Downgrade)
		}
	}
	if tr.Certificates != nil {
		tr.writeChain(p, "3.")
	}
	if tr.Verification != nil {
		tr.writeVerification(p, "4.")
	}
	if ca := tr.ClientAuth; ca != nil {
		p.head("Client certificate (mutual TLS)")
		p.field("requested", "yes: the server asks who the client is")
		if len(ca.AcceptableCAs) > 0 {
			p.list("issuers accepted", ca.AcceptableCAs)
		}
		p.field("sent", orNone(ca.Sent, "none (pass --cert and --key)"))
		if ca.Refused != "" {
			p.field("refused", p.bad(ca.Refused))
		}
	}
	if k := tr.KeyExchange; k != nil {
		p.head("5. Key exchange")
		method := k.Method
		if k.Group != nil {
			method += ", " + groupName(p, *k.Group)
		}
		p.field("method", method)
		if k.ForwardSecrecy {
			p.field("forward secrecy", p.good("yes"))
		} else {
			p.field("forward secrecy", p.bad("no"))
		}
		if k.ServerSignature != nil {
			p.field("signed with", k.ServerSignature.Name)
		}
		if k.DHPrimeBits > 0 {
			p.field("DH prime", fmt.Sprintf("%d bits", k.DHPrimeBits))
		}
		if k.ClientShareLen > 0 || k.ServerShareLen > 0 {
			p.field("shares", fmt.Sprintf("client %d bytes, server %d bytes", k.ClientShareLen, k.ServerShareLen))
		}
		wrap(p, k.Explanation)
	}
	if f := tr.Finished; f != nil {
		p.head("6-7. Finished: from here on, traffic is encrypted")
		p.field("client → server", encryptedFrom(f.ClientEncryptedFrom))
		p.field("server → client", encryptedFrom(f.ServerEncryptedFrom))
		p.field("handshake", fmt.Sprintf("%.1f ms, %d round trip%s (after a %.1f ms TCP connect)", f.HandshakeMillis, f.RoundTrips, plural(f.RoundTrips), f.TCPConnectMillis))
	}
	if h := tr.HTTP; h != nil {
		p.head("HTTP request over the connection")
		if !h.Sent {
			p.line("%s", p.bad(h.NotSentReason))
		} else {
			tr.writeHTTP(p)
		}
	}
	if tr.Error != "" {
		p.head("Connection failed")
		wrap(p, tr.Error)
	}
	if opt.Wire {
		tr.writeWire(p)
	}
}

func (tr *Trace) writeChain(p *printer, n string) {
	c := tr.Certificates
	title := n + " Certificate chain (server → client)"
	if c.TravelledEncrypted {
		title = n + " Certificate chain (server → client, encrypted in TLS 1.3: read from the connection)"
	} else if tr.Mode == "tls" {
		title = n + " Certificate chain (server → client, in clear in TLS 1.2: decoded from the wire)"
	} else if tr.Mode == "offline" {
		title = n + " Certificates"
	}
	p.head(title)
	for _, ci := range c.Chain {
		fmt.Fprintf(p.w, "   [%d] %s\n", ci.Position, p.style("1", orNone(ci.Subject, "(empty subject)")))
		p.field("  issuer", ci.Issuer)
		names := append(append(append([]string{}, ci.DNSNames...), ci.IPAddresses...), ci.URIs...)
		p.field("  names", orNone(strings.Join(names, ", "), "none (no Subject Alternative Name)"))
		left := fmt.Sprintf("%d days left", ci.DaysLeft)
		switch {
		case ci.DaysLeft < 0:
			left = p.bad(fmt.Sprintf("expired %d days ago", -ci.DaysLeft))
		case ci.DaysLeft < 14:
			left = p.warn(left)
		}
		p.field("  valid", fmt.Sprintf("%s → %s (%s)", ci.NotBefore.Format(time.DateOnly), ci.NotAfter.Format(time.DateOnly), left))
		p.field("  key", fmt.Sprintf("%s, %d bits", ci.KeyType, ci.KeyBits))
		p.field("  signature", ci.SignatureAlgorithm)
		p.field("  SHA-256", colonHex(ci.SHA256))
		if len(ci.SCTs) > 0 {
			p.field("  SCTs", fmt.Sprintf("%d embedded", len(ci.SCTs)))
		}
		if ci.IsCA {
			p.field("  CA", "yes")
		}
	}
	if tr.Mode == "tls" {
		p.field("SCTs in TLS", fmt.Sprintf("%d", len(c.SCTs)))
		if o := c.OCSP; o != nil && o.Stapled {
			status := o.Status
			if o.Error != "" {
				status = "unreadable: " + o.Error
			}
			if status == "revoked" {
				status = p.bad(status)
			}
			p.field("stapled OCSP", status)
		} else {
			p.field("stapled OCSP", "none")
		}
	}
}

func (tr *Trace) writeVerification(p *printer, n string) {
	v := tr.Verification
	roots := "the system's trusted roots"
	if v.Roots != "system" {
		roots = v.Roots
	}
	name := ""
	if v.Name != "" {
		name = " for " + v.Name
	}
	p.head(fmt.Sprintf("%s Verification against %s%s", n, roots, name))
	if v.Verified {
		p.line("%s %s", p.good("✔ verified:"), strings.Join(v.VerifiedChain, " → "))
		for _, w := range v.Warnings {
			p.line("%s %s", p.warn("!"), w)
		}
		return
	}
	p.line("%s %s", p.bad("✘ NOT verified:"), v.Reason)
	if tr.Mode == "tls" {
		p.line("%s", p.bad("A client that verifies certificates would refuse this connection."))
	}
}

func (tr *Trace) writeHTTP(p *printer) {
	h := tr.HTTP
	if tr.Mode == "tls" {
		p.field("request", strings.SplitN(h.Request, "\r\n", 2)[0])
	}
	p.field("status", h.StatusLine)
	if h.Location != "" {
		p.field("location", h.Location)
	}
	if tr.Mode == "tls" {
		if h.HSTS != "" {
			p.field("HSTS", p.good(h.HSTS))
		} else {
			p.field("HSTS", p.warn("missing: browsers may still try plain HTTP first"))
		}
	}
	var keys []string
	for k := range h.Headers {
		switch k {
		case "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Type", "Server":
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.field(k, strings.Join(h.Headers[k], ", "))
	}
}

func (tr *Trace) writePlainHTTP(p *printer) {
	t := tr.Target
	fmt.Fprintf(p.w, "Inspecting http://%s%s", hostHeader(t), t.Path)
	if t.Address != "" {
		fmt.Fprintf(p.w, " (%s)", t.Address)
	}
	fmt.Fprintln(p.w)
	p.head("Plain HTTP: no TLS at all")
	p.line("%s", p.bad("Everything below crossed the network in clear: anyone on the path can read and change it."))
	h := tr.HTTP
	if h == nil || !h.Sent {
		if tr.Error != "" {
			wrap(p, tr.Error)
		}
		return
	}
	p.head("Request, as sent on the wire")
	for _, l := range strings.Split(strings.TrimRight(h.Request, "\r\n"), "\r\n") {
		p.line("%s", l)
	}
	if h.StatusLine != "" {
		p.head("Response, as received on the wire")
		tr.writeHTTP(p)
		if h.BodyExcerpt != "" {
			p.field("body", p.warn("readable by anyone on the path:"))
			for _, l := range strings.Split(strings.TrimRight(h.BodyExcerpt, "\n"), "\n") {
				p.line("  %s", l)
			}
		}
	}
	p.head("Redirect to HTTPS")
	if h.RedirectsToHTTPS {
		p.line("%s the server redirects to %s", p.good("✔ yes:"), h.Location)
	} else {
		p.line("%s the server answered over plain HTTP (status %d) instead of redirecting to https://", p.bad("✘ no:"), h.Status)
	}
	if tr.Error != "" {
		wrap(p, tr.Error)
	}
}

func (tr *Trace) writeWire(p *printer) {
	p.head(fmt.Sprintf("Wire: %d records, as an eavesdropper sees them", len(tr.Records)))
	for _, r := range tr.Records {
		state := p.warn("plaintext")
		if r.Encrypted {
			state = p.good("encrypted")
		}
		dir := ClientToServer.arrow()
		if r.Direction == ServerToClient.String() {
			dir = ServerToClient.arrow()
		}
		what := strings.Join(r.Messages, ", ")
		if r.Note != "" {
			what = strings.TrimSpace(what + " (" + r.Note + ")")
		}
		fmt.Fprintf(p.w, "   #%-3d %8.1f ms  %s  %-18s %-8s %6d B  %s  %s\n", r.Index, r.AtMillis, dir, r.ContentType, r.Version, r.Length, state, what)
		b, _ := hex.DecodeString(r.Hex)
		for off := 0; off < len(b); off += 16 {
			line := b[off:min(off+16, len(b))]
			fmt.Fprintf(p.w, "          %-48s |%s|\n", spacedHex(line), r.ASCII[off:off+len(line)])
		}
	}
	if tr.RecordingTruncated {
		p.line("(recording stopped after %d MiB)", maxRecorded>>20)
	}
}

func spacedHex(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

func colonHex(h string) string {
	var parts []string
	for i := 0; i+2 <= len(h); i += 2 {
		parts = append(parts, strings.ToUpper(h[i:i+2]))
	}
	return strings.Join(parts, ":")
}

func codeNames(cs []Code) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return n
}

// list prints a field whose value is a list, wrapped under itself.
func (p *printer) list(k string, items []string) {
	if len(items) == 0 {
		p.field(k, "none")
		return
	}
	var lines []string
	cur := ""
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		if cur != "" && len(cur)+1+len(it) > 58 {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += it
	}
	lines = append(lines, cur)
	p.field(k, lines[0])
	for _, l := range lines[1:] {
		p.field("", l)
	}
}

func groupName(p *printer, g Group) string {
	if g.PostQuantumHybrid {
		return g.Name + " " + p.good("(post-quantum hybrid)")
	}
	return g.Name
}

func groupNames(p *printer, gs []Group) []string {
	var n []string
	for _, g := range gs {
		n = append(n, groupName(p, g))
	}
	return n
}

func encryptedFrom(i int) string {
	if i == 0 {
		return "no encrypted record seen"
	}
	return fmt.Sprintf("encrypted from record #%d on", i)
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// wrap prints a long explanation over several indented lines.
func wrap(p *printer, s string) {
	var line string
	for _, w := range strings.Fields(s) {
		if len(line)+len(w)+1 > 76 && line != "" {
			p.line("%s", line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		p.line("%s", line)
	}
}
