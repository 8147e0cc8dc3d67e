package scan

import (
	"strconv"
	"strings"
)

// HSTS is a parsed Strict-Transport-Security header (RFC 6797 section 6.1).
type HSTS struct {
	MaxAge            int64
	IncludeSubDomains bool
	Preload           bool
	// Valid is false when the header has no usable max-age directive, in
	// which case a browser ignores it.
	Valid bool
}

// ParseHSTS parses the value of a Strict-Transport-Security header. Unknown
// directives are ignored, as the RFC requires; a header with a duplicated or
// malformed max-age is invalid.
func ParseHSTS(v string) HSTS {
	var h HSTS
	seenMaxAge := false
	for _, d := range strings.Split(v, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch name {
		case "max-age":
			if seenMaxAge {
				return HSTS{}
			}
			seenMaxAge = true
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return HSTS{}
			}
			h.MaxAge = n
			h.Valid = true
		case "includesubdomains":
			h.IncludeSubDomains = true
		case "preload":
			h.Preload = true
		}
	}
	if !h.Valid {
		return HSTS{}
	}
	return h
}
