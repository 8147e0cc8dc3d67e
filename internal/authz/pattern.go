package authz

import (
	"fmt"
	"strings"
)

// maxSPIFFEIDLength is the longest SPIFFE ID the SPIFFE specification lets
// a URI SAN carry.
const maxSPIFFEIDLength = 2048

// dnsPattern is a validated DNS name pattern: lowercase labels, the leftmost
// of which may be "*" to match exactly one label.
type dnsPattern struct {
	wildcard bool
	rest     string // without the "*." when wildcard; the whole name otherwise
}

func parseDNSPattern(s string) (dnsPattern, error) {
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	if name == "" {
		return dnsPattern{}, fmt.Errorf("empty DNS name")
	}
	if name == "*" {
		return dnsPattern{}, fmt.Errorf(`"*" alone would match any name; write "*.DOMAIN", or use the rule "any" to allow every verified client`)
	}
	p := dnsPattern{rest: name}
	if strings.HasPrefix(name, "*.") {
		p.wildcard, p.rest = true, name[2:]
	}
	if err := checkHostname(p.rest); err != nil {
		if strings.Contains(p.rest, "*") {
			return dnsPattern{}, fmt.Errorf(`"*" is allowed only as the whole leftmost label, as in *.corp.test`)
		}
		return dnsPattern{}, err
	}
	if p.wildcard && !strings.Contains(p.rest, ".") {
		return dnsPattern{}, fmt.Errorf("wildcard %q covers a whole top-level domain; name at least two labels after *.", s)
	}
	return p, nil
}

func (p dnsPattern) String() string {
	if p.wildcard {
		return "*." + p.rest
	}
	return p.rest
}

// match reports whether a DNS name from a certificate matches. Names that are
// not valid host names (including wildcard SANs) never match.
func (p dnsPattern) match(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if checkHostname(name) != nil {
		return false
	}
	if !p.wildcard {
		return name == p.rest
	}
	first, rest, ok := strings.Cut(name, ".")
	return ok && first != "" && rest == p.rest
}

// checkHostname accepts a lowercase host name of letters, digits, '-' and
// '_' in labels of 1 to 63 bytes, 253 bytes at most.
func checkHostname(name string) error {
	if name == "" {
		return fmt.Errorf("empty DNS name")
	}
	if len(name) > 253 {
		return fmt.Errorf("DNS name is %d bytes long; the limit is 253", len(name))
	}
	for i, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("empty label (label %d) in %q", i+1, name)
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q is %d bytes long; the limit is 63", label, len(label))
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", label)
		}
		for j := 0; j < len(label); j++ {
			c := label[j]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("label %q holds %q; DNS names hold only letters, digits, '-' and '_'", label, c)
			}
		}
	}
	return nil
}

// spiffeID is a SPIFFE ID split into its trust domain and path segments.
type spiffeID struct {
	trustDomain string
	segments    []string
}

// parseSPIFFEID validates a SPIFFE ID strictly: scheme "spiffe://", a
// lowercase trust domain of letters, digits, '.', '-' and '_', and a path of
// non-empty segments of letters, digits, '.', '-' and '_' other than "." and
// "..". No port, user info, query, fragment, percent-encoding or trailing
// slash. With wildcards, a segment may be "*" (one segment) and the last one
// "**" (one or more segments).
func parseSPIFFEID(s string, wildcards bool) (spiffeID, error) {
	const scheme = "spiffe://"
	if len(s) > maxSPIFFEIDLength {
		return spiffeID{}, fmt.Errorf("SPIFFE ID is %d bytes long; the limit is %d", len(s), maxSPIFFEIDLength)
	}
	if !strings.HasPrefix(s, scheme) {
		if strings.HasPrefix(strings.ToLower(s), scheme) {
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: the scheme must be lowercase spiffe://", s)
		}
		return spiffeID{}, fmt.Errorf("SPIFFE ID %q does not start with spiffe://", s)
	}
	rest := s[len(scheme):]
	td, path, hasPath := strings.Cut(rest, "/")
	if td == "" {
		return spiffeID{}, fmt.Errorf("SPIFFE ID %q has no trust domain; write spiffe://TRUST-DOMAIN/PATH", s)
	}
	for i := 0; i < len(td); i++ {
		c := td[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		case 'A' <= c && c <= 'Z':
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: trust domain %q must be lowercase", s, td)
		case c == ':':
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: trust domain %q must not carry a port", s, td)
		case c == '@':
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: trust domain %q must not carry user info", s, td)
		case c == '*':
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: wildcards are not allowed in the trust domain; a rule names exactly one trust domain", s)
		default:
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: trust domain holds %q; allowed are lowercase letters, digits, '.', '-' and '_'", s, c)
		}
	}
	id := spiffeID{trustDomain: td}
	if !hasPath {
		return id, nil
	}
	if path == "" {
		return spiffeID{}, fmt.Errorf("SPIFFE ID %q ends with '/'; drop the trailing slash", s)
	}
	id.segments = strings.Split(path, "/")
	for i, seg := range id.segments {
		if err := checkSPIFFESegment(seg, wildcards, i == len(id.segments)-1); err != nil {
			return spiffeID{}, fmt.Errorf("SPIFFE ID %q: path segment %d: %w", s, i+1, err)
		}
	}
	return id, nil
}

func checkSPIFFESegment(seg string, wildcards, last bool) error {
	switch seg {
	case "":
		return fmt.Errorf("empty segment (double or trailing '/')")
	case ".", "..":
		return fmt.Errorf("%q is not allowed as a segment", seg)
	case "*":
		if wildcards {
			return nil
		}
	case "**":
		if wildcards && last {
			return nil
		}
		if wildcards {
			return fmt.Errorf(`"**" is allowed only as the last segment`)
		}
	}
	for j := 0; j < len(seg); j++ {
		c := seg[j]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		case c == '*' && wildcards:
			return fmt.Errorf(`segment %q: "*" must be a whole segment ("*" for one segment, "**" at the end for any number)`, seg)
		case c == '*':
			return fmt.Errorf("segment %q holds '*', which a SPIFFE ID cannot contain", seg)
		case c == '%':
			return fmt.Errorf("segment %q is percent-encoded; SPIFFE IDs do not allow it", seg)
		case c == '?' || c == '#':
			return fmt.Errorf("segment %q carries a query or fragment; SPIFFE IDs have neither", seg)
		default:
			return fmt.Errorf("segment %q holds %q; allowed are letters, digits, '.', '-' and '_'", seg, c)
		}
	}
	return nil
}

func (p spiffeID) String() string {
	if len(p.segments) == 0 {
		return "spiffe://" + p.trustDomain
	}
	return "spiffe://" + p.trustDomain + "/" + strings.Join(p.segments, "/")
}

// match reports whether the SPIFFE ID id (parsed without wildcards) matches
// the pattern p.
func (p spiffeID) match(id spiffeID) bool {
	if p.trustDomain != id.trustDomain {
		return false
	}
	for i, seg := range p.segments {
		if seg == "**" {
			return len(id.segments) > i
		}
		if i >= len(id.segments) {
			return false
		}
		if seg != "*" && seg != id.segments[i] {
			return false
		}
	}
	return len(id.segments) == len(p.segments)
}
