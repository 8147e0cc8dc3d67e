package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzHostHeader feeds arbitrary Host header values to the parser that
// decides which site a request is for. It must never panic, and what it
// accepts must be a plain name or address that round-trips.
func FuzzHostHeader(f *testing.F) {
	for _, s := range []string{"localhost", "localhost:8443", "[::1]:8443", "127.0.0.1", "API.Example.COM.", "a..b", "[::1", "x:y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		h, ok := hostOnly(host)
		if !ok {
			return
		}
		if strings.ContainsAny(h, " /\\@?#[]\r\n\t") {
			t.Fatalf("hostOnly(%q) accepted %q", host, h)
		}
		if h != strings.ToLower(h) {
			t.Fatalf("hostOnly(%q) = %q is not normalised", host, h)
		}
	})
}

// FuzzForwardedFor feeds arbitrary X-Forwarded-For chains from a trusted
// proxy to the client address logic; the result must be the peer or an
// address from the chain, never something invented.
func FuzzForwardedFor(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "203.0.113.9, 10.0.0.2", "garbage", "::1, 2001:db8::1", ",,,", "10.0.0.1,  198.51.100.7 "} {
		f.Add(s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff string) {
		r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{"X-Forwarded-For": {xff}}}
		got := clientAddr(r, trusted)
		if got == netip.MustParseAddr("127.0.0.1") {
			return
		}
		inChain := false
		for part := range strings.SplitSeq(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(part)); err == nil && a.Unmap() == got {
				inChain = true
			}
		}
		if !inChain {
			t.Fatalf("clientAddr(%q) = %s, not in the chain", xff, got)
		}
		out := &http.Request{Header: http.Header{}}
		setForwarded(r, out, trusted)
		for _, k := range []string{"X-Forwarded-For", "Forwarded"} {
			if v := out.Header.Get(k); strings.ContainsAny(v, "\r\n") {
				t.Fatalf("%s carries a line break: %q", k, v)
			}
		}
	})
}
