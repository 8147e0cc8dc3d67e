package authz

import (
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
)

// The headers that carry a verified client identity upstream. Every value is
// percent-encoded (RFC 3986, decode with url.PathUnescape: '+' stays '+');
// lists are comma-separated, which is unambiguous because an encoded value
// never holds a comma.
const (
	HeaderSubject  = "X-Client-Cert-Subject"   // RFC 2253 subject
	HeaderDNS      = "X-Client-Cert-San-Dns"   // DNS SANs
	HeaderURI      = "X-Client-Cert-San-Uri"   // URI SANs (SPIFFE IDs)
	HeaderEmail    = "X-Client-Cert-San-Email" // email SANs
	HeaderIP       = "X-Client-Cert-San-Ip"    // IP SANs
	HeaderSHA256   = "X-Client-Cert-Sha256"    // SHA-256 of the certificate, lowercase hex
	HeaderPEM      = "X-Client-Cert-Pem"       // the certificate, PEM, percent-encoded
	headerPrefixLC = "x-client-cert"
)

// IsClientCertHeader reports whether a header name belongs to the
// X-Client-Cert family, whatever its case and whether it is written with '-'
// or '_' (some upstreams treat X_Client_Cert_Subject as X-Client-Cert-Subject).
func IsClientCertHeader(name string) bool {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	return strings.HasPrefix(n, headerPrefixLC)
}

// StripClientCertHeaders removes every X-Client-Cert header a client sent,
// so that only the gateway can vouch for an identity.
func StripClientCertHeaders(h http.Header) {
	for k := range h {
		if IsClientCertHeader(k) {
			delete(h, k)
		}
	}
}

// SetClientCertHeaders strips any client-sent X-Client-Cert headers and, when
// id is not nil, sets them from the verified identity.
func SetClientCertHeaders(h http.Header, id *Identity) {
	StripClientCertHeaders(h)
	if id == nil {
		return
	}
	h.Set(HeaderSubject, url.PathEscape(id.Subject))
	setList(h, HeaderDNS, id.DNSNames)
	setList(h, HeaderURI, id.URIs)
	setList(h, HeaderEmail, id.Emails)
	ips := make([]string, len(id.IPs))
	for i, a := range id.IPs {
		ips[i] = a.String()
	}
	setList(h, HeaderIP, ips)
	h.Set(HeaderSHA256, id.Fingerprint)
	if id.Certificate != nil {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Certificate.Raw})
		h.Set(HeaderPEM, url.PathEscape(string(b)))
	}
}

func setList(h http.Header, name string, values []string) {
	if len(values) == 0 {
		return
	}
	enc := make([]string, len(values))
	for i, v := range values {
		enc[i] = url.PathEscape(v)
	}
	h.Set(name, strings.Join(enc, ","))
}

// ClientCertHeaderValues decodes one of the list headers set by
// SetClientCertHeaders, for upstreams written in Go and for tests.
func ClientCertHeaderValues(h http.Header, name string) ([]string, error) {
	v := h.Get(name)
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		parts[i] = s
	}
	return parts, nil
}
