package gateway

import (
	"net"
	"net/netip"
	"sort"
	"strings"
)

// normalizeHost lowercases a host name and strips a trailing dot and IPv6
// brackets, so that SNI, Host headers and configured names compare equal.
func normalizeHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return h
}

func validHostPattern(h string) bool {
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		h = rest
	}
	return validDNSName(h)
}

// validDNSName accepts LDH labels (and underscore, common in internal names).
func validDNSName(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostTable maps host names to sites: exact names first, then one-label
// wildcards.
type hostTable struct {
	exact    map[string]*site
	wildcard map[string]*site // key: the suffix after "*."
	fallback *site            // for missing or unknown SNI; may be nil
}

func (t *hostTable) lookup(name string) *site {
	if s, ok := t.exact[name]; ok {
		return s
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if s, ok := t.wildcard[name[i+1:]]; ok {
			return s
		}
	}
	return nil
}

// hostOnly returns the host part of a Host header value, normalised, and
// whether it is well formed.
func hostOnly(hostport string) (string, bool) {
	h := hostport
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", false
		}
		rest := h[end+1:]
		if rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return "", false
		}
		h = h[1:end]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:]) {
			return "", false
		}
		h = h[:i]
		if strings.IndexByte(h, ':') >= 0 {
			return "", false // an IPv6 literal needs brackets
		}
	}
	h = normalizeHost(h)
	if a, err := netip.ParseAddr(h); err == nil {
		// A zone names an interface of the client's machine, never a site.
		return h, a.Zone() == ""
	}
	return h, validDNSName(h)
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// routeTable holds a site's routes, longest prefix first.
type routeTable []*route

func newRouteTable(rs []*route) routeTable {
	t := append(routeTable(nil), rs...)
	sort.SliceStable(t, func(i, j int) bool { return len(t[i].prefix) > len(t[j].prefix) })
	return t
}

func (t routeTable) match(path string) *route {
	for _, r := range t {
		if prefixMatches(r.prefix, path) {
			return r
		}
	}
	return nil
}

// prefixMatches matches whole path segments.
func prefixMatches(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// portOf returns the numeric port of a listen address, or 0.
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
