package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// peerAddr is the address of the TCP peer.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the client as far as we can believe: the TCP peer, or, when
// the peer is a trusted proxy, the rightmost untrusted address in
// X-Forwarded-For.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r)
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer // a garbled chain: trust only what we saw
			}
			a = a.Unmap()
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return peer
}

// setForwarded writes X-Forwarded-For/-Proto/-Host and Forwarded on the
// outbound request. in is the client's request; out's headers have already
// lost any such header (httputil.ReverseProxy drops them before Rewrite), so
// a chain from a trusted proxy is copied back from in.
func setForwarded(in, out *http.Request, trusted []netip.Prefix) {
	peer := peerAddr(in)
	peerStr := ""
	if peer.IsValid() {
		peerStr = peer.String()
	} else if h, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		peerStr = h
	}
	fromTrusted := len(trusted) > 0 && isTrusted(peer, trusted)
	xff := peerStr
	proto := "https"
	if in.TLS == nil {
		proto = "http"
	}
	host := in.Host
	var fwd string
	if fromTrusted {
		// A trusted proxy's chain is kept only when it is printable text;
		// anything else would be refused upstream or split a header.
		if prior := in.Header.Values("X-Forwarded-For"); len(prior) > 0 && printable(prior) {
			xff = strings.Join(prior, ", ") + ", " + peerStr
		}
		if p := in.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			proto = p
		}
		if h := in.Header.Get("X-Forwarded-Host"); h != "" {
			if _, ok := hostOnly(h); ok {
				host = h
			}
		}
		if prior := in.Header.Values("Forwarded"); len(prior) > 0 && printable(prior) {
			fwd = strings.Join(prior, ", ") + ", "
		}
	}
	h := out.Header
	h["X-Forwarded-For"] = []string{xff}
	switch proto {
	case "https":
		h["X-Forwarded-Proto"] = protoHTTPS
	case "http":
		h["X-Forwarded-Proto"] = protoHTTP
	}
	h["X-Forwarded-Host"] = []string{host}
	h["Forwarded"] = []string{fwd + forwardedElement(peer, peerStr, in.Host, in.TLS != nil)}
}

// Shared header values: the transport only reads outbound headers, and
// len == cap makes any append copy.
var (
	protoHTTPS = []string{"https"}
	protoHTTP  = []string{"http"}
)

// forwardedElement builds one RFC 7239 element for this hop.
func forwardedElement(peer netip.Addr, peerStr, host string, tls bool) string {
	var b strings.Builder
	b.Grow(48 + len(host))
	b.WriteString("for=")
	if peer.Is6() {
		b.WriteString(`"[`)
		b.WriteString(peerStr)
		b.WriteString(`]"`)
	} else {
		b.WriteString(peerStr)
	}
	b.WriteString(";host=")
	if forwardedToken(host) {
		b.WriteString(host)
	} else {
		b.WriteString(quoteForwarded(host))
	}
	if tls {
		b.WriteString(";proto=https")
	} else {
		b.WriteString(";proto=http")
	}
	return b.String()
}

func forwardedToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func quoteForwarded(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// printable reports whether every value is visible ASCII or space.
func printable(vals []string) bool {
	for _, v := range vals {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c >= 0x7f {
				return false
			}
		}
	}
	return true
}
