package gateway

import (
	"net/http"
	"strconv"
)

// writeError answers with a small JSON body that says what went wrong:
// {"error":"upstream_unreachable","status":502,"message":"..."}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	b := make([]byte, 0, 64+len(code)+len(message))
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, code)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// appendJSONString appends s as a JSON string. strconv.Quote is not JSON:
// it emits \x escapes, so control and non-ASCII bytes are handled here.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
