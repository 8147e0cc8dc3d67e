package scan

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// goSuites are all the suites crypto/tls can negotiate, offered by the
// probes that complete a real handshake.
func goSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		ids = append(ids, s.ID)
	}
	return ids
}

func (rn *run) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName: rn.sni,
		// Trust is decided by checkCertificate on the chain as sent, so that
		// an untrusted server can still be scanned and graded.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS13,
		CipherSuites:       goSuites(),
	}
}

// handshake completes a real crypto/tls handshake over a budgeted
// connection.
func (rn *run) handshake(ctx context.Context, cfg *tls.Config) (*tls.Conn, error) {
	c, err := rn.budget.dial(ctx, rn.addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, cfg)
	hctx, cancel := context.WithTimeout(ctx, rn.s.opts.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// probeHandshake completes one real handshake to read the certificate chain,
// the stapled OCSP response and SCTs, then sends one HTTP request over it
// for the HSTS header, then reconnects to see whether the session resumes.
func probeHandshake(ctx context.Context, rn *run) {
	cfg := rn.tlsConfig()
	cfg.NextProtos = []string{"http/1.1"}
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	tc, err := rn.handshake(ctx, cfg)
	if err != nil {
		// Some servers refuse an ALPN list without h2; try without ALPN.
		cfg.NextProtos = nil
		tc, err = rn.handshake(ctx, cfg)
	}
	if err != nil {
		rn.note("full handshake with crypto/tls failed: %v", err)
		rn.update(func(r *Result) { r.HTTP = &HTTPResult{Error: "no handshake: " + err.Error(), Port80: "not-checked"} })
		return
	}
	st := tc.ConnectionState()
	host := rn.sni
	if host == "" {
		host = rn.t.Host
	}
	cr := checkCertificate(ctx, st.PeerCertificates, host, rn.s.opts.Roots, st.OCSPResponse, len(st.SignedCertificateTimestamps), rn.s.opts.Now())
	rn.update(func(r *Result) {
		if cr != nil {
			r.Certificate = cr
		}
		r.OCSPStapled = len(st.OCSPResponse) > 0
	})

	h := &HTTPResult{Port80: "not-checked"}
	if err := httpHead(tc, host, h); err != nil {
		h.Error = err.Error()
	}
	tc.Close()
	rn.update(func(r *Result) {
		if r.HTTP != nil {
			h.Port80, h.Port80Location = r.HTTP.Port80, r.HTTP.Port80Location
		}
		r.HTTP = h
	})

	// Resumption: the cache now holds the ticket the server sent, if any.
	tc2, err := rn.handshake(ctx, cfg)
	if err != nil {
		rn.note("resumption handshake failed: %v", err)
		return
	}
	resumed := tc2.ConnectionState().DidResume
	tc2.Close()
	rn.update(func(r *Result) { r.Resumption.Tickets = resumed })
}

// httpHead sends GET / over an established connection and records the
// status and the Strict-Transport-Security header. Reading the response also
// makes crypto/tls process TLS 1.3 session tickets.
func httpHead(tc *tls.Conn, host string, h *HTTPResult) error {
	req := fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsgate-scan\r\nAccept: */*\r\nConnection: close\r\n\r\n", host)
	if _, err := tc.Write([]byte(req)); err != nil {
		return fmt.Errorf("send HTTP request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return fmt.Errorf("read HTTP response: %w", err)
	}
	defer resp.Body.Close()
	h.Status = resp.StatusCode
	if v := resp.Header.Get("Strict-Transport-Security"); v != "" {
		h.HSTS = v
		p := ParseHSTS(v)
		h.HSTSMaxAge, h.HSTSSubdomains, h.HSTSPreload = p.MaxAge, p.IncludeSubDomains, p.Preload
	}
	return nil
}

// probeALPN offers each common application protocol alone and records the
// ones the server selects.
func probeALPN(ctx context.Context, rn *run) {
	var got []string
	for _, p := range []string{"h2", "http/1.1"} {
		cfg := rn.tlsConfig()
		cfg.NextProtos = []string{p}
		tc, err := rn.handshake(ctx, cfg)
		if err != nil {
			continue
		}
		if tc.ConnectionState().NegotiatedProtocol == p {
			got = append(got, p)
		}
		tc.Close()
	}
	rn.update(func(r *Result) { r.ALPN = got })
}

// probePort80 asks the plain-HTTP port whether it redirects to HTTPS.
func probePort80(ctx context.Context, rn *run) {
	res, loc := "closed", ""
	defer func() {
		rn.update(func(r *Result) {
			if r.HTTP == nil {
				r.HTTP = &HTTPResult{}
			}
			r.HTTP.Port80, r.HTTP.Port80Location = res, loc
		})
	}()
	ip, _, _ := net.SplitHostPort(rn.addr)
	addr := net.JoinHostPort(ip, strconv.Itoa(rn.s.opts.HTTPPort))
	c, err := rn.budget.dial(ctx, addr)
	if err != nil {
		return
	}
	defer c.Close()
	host := rn.sni
	if host == "" {
		host = rn.t.Host
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsgate-scan\r\nConnection: close\r\n\r\n", host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		res = "not-http"
		return
	}
	resp.Body.Close()
	loc = resp.Header.Get("Location")
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && strings.HasPrefix(strings.ToLower(loc), "https://"):
		res = "redirect-https"
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res = "redirect-other"
	default:
		res = "plain-http"
	}
}
