package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// whoamiHandler is the built-in API that shows a client what the gateway
// saw: the request and the TLS connection it came over.
type whoamiHandler struct{}

// Whoami is the JSON document the whoami API answers with.
type Whoami struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Query      string              `json:"query,omitempty"`
	Host       string              `json:"host"`
	Proto      string              `json:"proto"`
	RemoteAddr string              `json:"remote_addr"`
	Headers    map[string][]string `json:"headers"`
	// BodyBytes is the size of the request body, read to its end before
	// answering.
	BodyBytes int64      `json:"body_bytes,omitempty"`
	TLS       *WhoamiTLS `json:"tls,omitempty"`
}

// whoamiMaxBody bounds the request body the whoami API reads.
const whoamiMaxBody = 1 << 20

// WhoamiTLS describes the client's TLS connection.
type WhoamiTLS struct {
	Version        string          `json:"version"`
	CipherSuite    string          `json:"cipher_suite"`
	Group          string          `json:"group"`
	ALPN           string          `json:"alpn"`
	SNI            string          `json:"sni"`
	Resumed        bool            `json:"resumed"`
	HandshakeMilli float64         `json:"handshake_ms,omitempty"`
	Client         *ClientIdentity `json:"client,omitempty"`
}

// ClientIdentity is a verified client certificate as authz reads it: the
// names rules match against, and the name logs use.
type ClientIdentity struct {
	Name       string    `json:"name"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	DNSNames   []string  `json:"dns_names,omitempty"`
	URIs       []string  `json:"uris,omitempty"`
	Emails     []string  `json:"emails,omitempty"`
	IPs        []string  `json:"ips,omitempty"`
	Serial     string    `json:"serial"`
	SHA256     string    `json:"sha256"`
	SPKISHA256 string    `json:"spki_sha256"`
	NotAfter   time.Time `json:"not_after"`
}

func (whoamiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body is read before answering, so that a malformed one (its
	// length not the declared Content-Length) fails the request rather
	// than racing the answer.
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, whoamiMaxBody+1))
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_body", "the request body could not be read: "+err.Error())
		return
	case n > whoamiMaxBody:
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the whoami API reads at most 1 MiB of request body")
		return
	}
	doc := Whoami{
		BodyBytes:  n,
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      r.URL.RawQuery,
		Host:       r.Host,
		Proto:      r.Proto,
		RemoteAddr: r.RemoteAddr,
		Headers:    map[string][]string(r.Header),
	}
	if r.TLS != nil {
		doc.TLS = &WhoamiTLS{
			Version:     tlspolicy.VersionName(r.TLS.Version),
			CipherSuite: tlspolicy.CipherSuiteName(r.TLS.CipherSuite),
			Group:       tlspolicy.GroupName(r.TLS.CurveID),
			ALPN:        r.TLS.NegotiatedProtocol,
			SNI:         r.TLS.ServerName,
			Resumed:     r.TLS.DidResume,
		}
		if tc := connFrom(r); tc != nil {
			if d := tc.handshake.Load(); d > 0 {
				doc.TLS.HandshakeMilli = float64(d) / 1e6
			}
		}
		doc.TLS.Client = identityOf(r)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(doc)
}

func identityOf(r *http.Request) *ClientIdentity {
	id := verifiedClient(r)
	if id == nil {
		return nil
	}
	out := &ClientIdentity{
		Name:       id.String(),
		Subject:    id.Subject,
		Issuer:     id.Certificate.Issuer.String(),
		DNSNames:   id.DNSNames,
		URIs:       id.URIs,
		Emails:     id.Emails,
		Serial:     id.Serial,
		SHA256:     id.Fingerprint,
		SPKISHA256: id.SPKIFingerprint,
		NotAfter:   id.Certificate.NotAfter.UTC(),
	}
	for _, ip := range id.IPs {
		out.IPs = append(out.IPs, ip.String())
	}
	return out
}
