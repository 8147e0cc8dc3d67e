package inspect

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Options say what to connect to and how.
type Options struct {
	// Target is https://host[:port][/path], http://host[:port][/path] or
	// host:port.
	Target string
	// CAFile holds the roots to verify against; empty means the system's.
	CAFile string
	// ClientCertFile and ClientKeyFile hold a client certificate to offer.
	ClientCertFile, ClientKeyFile string
	// ServerName overrides the SNI and the name verified (default: the
	// target's host).
	ServerName string
	// Version forces TLS 1.2 or 1.3 (0: negotiate).
	Version uint16
	// Request sends an HTTP GET over the connection once it is verified.
	Request bool
	// Timeout bounds the whole inspection (0: 10 seconds).
	Timeout time.Duration
	// Now is the clock (nil: time.Now); tests set it.
	Now func() time.Time
}

// ConnectionError is returned when the connection or handshake failed; the
// trace holds what was seen up to then.
type ConnectionError struct{ Err error }

func (e *ConnectionError) Error() string { return e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }

// clientAuthWait is how long inspect waits, after a TLS 1.3 handshake that
// sent a client certificate, for the server to refuse it.
const clientAuthWait = 500 * time.Millisecond

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// distinguishedName renders a DER-encoded name.
func distinguishedName(der []byte) string {
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdn); err != nil {
		return fmt.Sprintf("(unreadable name, %d bytes)", len(der))
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	return n.String()
}

// maxBody bounds how much of an HTTP response body inspect reads.
const maxBody = 64 << 10

// Run inspects one connection. It returns the trace and, when the
// connection failed, a *ConnectionError (the trace then shows how far it
// got); a bad target or file is a *UsageError. A chain that does not verify
// is not an error: see Trace.Verification.
func Run(ctx context.Context, o Options) (*Trace, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	t, err := ParseTarget(o.Target)
	if err != nil {
		return nil, err
	}
	tr := &Trace{SchemaVersion: SchemaVersion, Mode: "tls", Target: t, StartedAt: now().UTC(), Records: []RecordInfo{}}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.Scheme == "http" {
		tr.Mode = "http"
		return tr, runPlainHTTP(ctx, tr, o)
	}

	roots, rootsDesc, err := loadRoots(o.CAFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		// Verification happens after the handshake (verifyChain), so that
		// the trace completes and names the exact reason when it fails.
		InsecureSkipVerify: true,
		ServerName:         t.Host,
		NextProtos:         []string{"h2", "http/1.1"},
		CipherSuites:       offeredSuites(),
	}
	if o.Request {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if o.ServerName != "" {
		cfg.ServerName = o.ServerName
	}
	switch o.Version {
	case 0:
	case tls.VersionTLS12, tls.VersionTLS13:
		cfg.MinVersion, cfg.MaxVersion = o.Version, o.Version
	default:
		return nil, usagef("unsupported TLS version 0x%04x: use TLS 1.2 or 1.3", o.Version)
	}
	var clientCert *tls.Certificate
	if o.ClientCertFile != "" || o.ClientKeyFile != "" {
		if o.ClientCertFile == "" || o.ClientKeyFile == "" {
			return nil, usagef("--cert and --key go together: a client certificate needs its private key")
		}
		pair, err := tls.LoadX509KeyPair(o.ClientCertFile, o.ClientKeyFile)
		if err != nil {
			return nil, usagef("client certificate %s / %s: %v", o.ClientCertFile, o.ClientKeyFile, err)
		}
		clientCert = &pair
	}
	// Record whether the server asks for a client certificate, and answer
	// with the one given (or none).
	clientAuth := &ClientAuthInfo{}
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		clientAuth.Requested = true
		for _, dn := range cri.AcceptableCAs {
			clientAuth.AcceptableCAs = append(clientAuth.AcceptableCAs, distinguishedName(dn))
		}
		if clientCert == nil {
			return &tls.Certificate{}, nil
		}
		if leaf, err := x509.ParseCertificate(clientCert.Certificate[0]); err == nil {
			clientAuth.Sent = leaf.Subject.String()
		}
		return clientCert, nil
	}

	start := time.Now()
	var dialer net.Dialer
	raw, err := dialer.DialContext(ctx, "tcp", t.hostPort())
	if err != nil {
		tr.Error = fmt.Sprintf("cannot connect to %s: %v: check the host and port, and that a server listens there", t.hostPort(), err)
		return tr, &ConnectionError{errors.New(tr.Error)}
	}
	connected := time.Since(start)
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	tr.Target.Address = raw.RemoteAddr().String()
	tap := newTap(raw, start)
	conn := tls.Client(tap, cfg)
	hsStart := time.Now()
	hsErr := conn.HandshakeContext(ctx)
	hsDur := time.Since(hsStart)

	if hsErr == nil && clientAuth.Requested && conn.ConnectionState().Version == tls.VersionTLS13 && !o.Request {
		// A TLS 1.3 client finishes before the server has checked its
		// certificate; a refusal arrives as an alert right after.
		conn.SetReadDeadline(time.Now().Add(clientAuthWait))
		if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) && err != io.EOF {
			hsErr = err
		}
		conn.SetReadDeadline(time.Time{})
		if dl, ok := ctx.Deadline(); ok {
			raw.SetDeadline(dl)
		}
	}
	if clientAuth.Requested {
		tr.ClientAuth = clientAuth
		if hsErr != nil {
			clientAuth.Refused = hsErr.Error()
		}
	}
	d := decodeRecording(tap.snapshot())
	tr.fillHellos(d)
	if hsErr != nil {
		tr.Records = d.records
		tr.Error = handshakeError(t, hsErr, d, clientAuth)
		return tr, &ConnectionError{errors.New(tr.Error)}
	}
	st := conn.ConnectionState()
	if tr.ServerHello != nil {
		tr.ServerHello.Resumed = st.DidResume
	}
	tr.Certificates = &CertificatesInfo{TravelledEncrypted: st.Version == tls.VersionTLS13, SCTs: parseSCTs(st.SignedCertificateTimestamps)}
	chain := st.PeerCertificates
	if wireChain, err := chainFromWire(d); err == nil && wireChain != nil {
		// TLS 1.2: describe the certificates exactly as they crossed the
		// wire in clear.
		chain, tr.Certificates.DecodedFromWire = wireChain, true
	}
	for i, c := range chain {
		tr.Certificates.Chain = append(tr.Certificates.Chain, describeCert(i, c, now()))
	}
	tr.Certificates.OCSP = describeOCSP(st.OCSPResponse, st.PeerCertificates)
	name := cfg.ServerName
	tr.Verification = verifyChain(ctx, st.PeerCertificates, roots, rootsDesc, name, now(), st.OCSPResponse)
	tr.KeyExchange = keyExchangeInfo(st, d)
	if tr.ServerHello != nil && tr.ServerHello.Group == nil && tr.KeyExchange.Group != nil {
		// TLS 1.2 names the group in ServerKeyExchange, right after.
		tr.ServerHello.Group = tr.KeyExchange.Group
	}
	tr.Records = d.records
	tr.Finished = finishedInfo(d.records, st.Version == tls.VersionTLS13)
	tr.Finished.TCPConnectMillis = millis(connected)
	tr.Finished.HandshakeMillis = millis(hsDur)

	if o.Request {
		tr.HTTP = &HTTPInfo{}
		if !tr.Verification.Verified {
			tr.HTTP.NotSentReason = "not sent: the server's certificate did not verify, so the request could reach an impostor"
		} else if err := doRequest(conn, t, tr.HTTP); err != nil {
			tr.Error = fmt.Sprintf("HTTP request to %s failed: %v", t.hostPort(), err)
			tr.Records = decodeRecording(tap.snapshot()).records
			return tr, &ConnectionError{errors.New(tr.Error)}
		}
	}
	conn.Close()
	tr.Records = decodeRecording(tap.snapshot()).records
	tr.RecordingTruncated = tap.truncated
	return tr, nil
}

func (tr *Trace) fillHellos(d *decoded) {
	if n := len(d.clientHellos); n > 0 {
		tr.ClientHello = clientHelloInfo(d.clientHellos[0])
		if n > 1 {
			// After a HelloRetryRequest the second hello is what counts.
			tr.ClientHello = clientHelloInfo(d.clientHellos[n-1])
			tr.ClientHello.Retried = true
		}
		tr.Target.ServerName = tr.ClientHello.ServerName
	}
	for _, sh := range d.serverHellos {
		if sh.IsHelloRetryRequest() {
			tr.HelloRetryRequest = helloRetryInfo(sh)
			if len(d.clientHellos) > 0 {
				tr.HelloRetryRequest.FirstKeyShares = clientHelloInfo(d.clientHellos[0]).KeyShares
			}
		} else {
			tr.ServerHello = serverHelloInfo(sh, false)
		}
	}
}

// handshakeError says why the handshake failed and what to try.
func handshakeError(t *Target, err error, d *decoded, ca *ClientAuthInfo) string {
	msg := fmt.Sprintf("TLS handshake with %s failed: %v", t.hostPort(), err)
	for _, a := range d.alerts {
		msg += fmt.Sprintf(" (the server sent alert %s)", a)
		break
	}
	s := err.Error()
	switch {
	case ca.Requested && ca.Sent == "":
		msg += ": the server requires a client certificate: pass --cert and --key"
	case ca.Requested:
		msg += ": the server refused the client certificate " + ca.Sent + ": check that its issuer is one the server accepts"
	case strings.Contains(s, "does not look like a TLS handshake") || strings.Contains(s, "record overflow") && len(d.serverHellos) == 0:
		msg += ": the port does not speak TLS; if it serves plain HTTP, inspect http://" + t.hostPort() + t.Path
	case strings.Contains(s, "protocol version"):
		msg += ": client and server share no TLS version; try without --tls1.2/--tls1.3"
	case strings.Contains(s, "handshake failure"):
		msg += ": client and server share no cipher suite or group (run tlsgate scan for what the server accepts)"
	}
	return msg
}

// doRequest sends a GET over a verified connection and reads the answer.
func doRequest(conn *tls.Conn, t *Target, h *HTTPInfo) error {
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsgate-inspect\r\nAccept: */*\r\nConnection: close\r\n\r\n", t.Path, hostHeader(t))
	h.Request = req
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	h.Sent = true
	return readResponse(conn, h)
}

func hostHeader(t *Target) string {
	if (t.Scheme == "https" && t.Port == "443") || (t.Scheme == "http" && t.Port == "80") {
		return t.Host
	}
	return net.JoinHostPort(t.Host, t.Port)
}

func readResponse(r io.Reader, h *HTTPInfo) error {
	resp, err := http.ReadResponse(bufio.NewReader(r), nil)
	if err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	defer resp.Body.Close()
	h.Status = resp.StatusCode
	h.StatusLine = resp.Proto + " " + resp.Status
	h.Headers = map[string][]string{}
	for k, v := range resp.Header {
		h.Headers[k] = v
	}
	h.HSTS = resp.Header.Get("Strict-Transport-Security")
	h.Location = resp.Header.Get("Location")
	h.RedirectsToHTTPS = resp.StatusCode >= 300 && resp.StatusCode < 400 && strings.HasPrefix(strings.ToLower(h.Location), "https://")
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	h.BodyExcerpt = string(body[:min(len(body), 2048)])
	return nil
}

// runPlainHTTP fetches an http:// URL and shows that all of it crossed the
// wire readable.
func runPlainHTTP(ctx context.Context, tr *Trace, o Options) error {
	t := tr.Target
	start := time.Now()
	var dialer net.Dialer
	raw, err := dialer.DialContext(ctx, "tcp", t.hostPort())
	if err != nil {
		tr.Error = fmt.Sprintf("cannot connect to %s: %v: check the host and port, and that a server listens there", t.hostPort(), err)
		return &ConnectionError{errors.New(tr.Error)}
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	tr.Target.Address = raw.RemoteAddr().String()
	tap := newTap(raw, start)
	tr.HTTP = &HTTPInfo{ReadableOnWire: true}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsgate-inspect\r\nAccept: */*\r\nConnection: close\r\n\r\n", t.Path, hostHeader(t))
	tr.HTTP.Request = req
	if _, err := io.WriteString(tap, req); err != nil {
		tr.Error = fmt.Sprintf("sending the request to %s: %v", t.hostPort(), err)
		return &ConnectionError{errors.New(tr.Error)}
	}
	tr.HTTP.Sent = true
	err = readResponse(tap, tr.HTTP)
	for i, c := range tap.snapshot() {
		r := RecordInfo{Index: i + 1, Direction: c.dir.String(), AtMillis: millis(c.at), ContentType: "plain_http", Length: len(c.data)}
		r.Hex, r.ASCII = excerpt(c.data, httpExcerptLen)
		tr.Records = append(tr.Records, r)
	}
	tr.RecordingTruncated = tap.truncated
	if err != nil {
		tr.Error = fmt.Sprintf("HTTP exchange with %s failed: %v", t.hostPort(), err)
		return &ConnectionError{errors.New(tr.Error)}
	}
	return nil
}

// chainFromWire parses the cleartext TLS 1.2 Certificate message, nil when
// there was none (TLS 1.3, resumption).
func chainFromWire(d *decoded) ([]*x509.Certificate, error) {
	if d.certificate == nil {
		return nil, nil
	}
	var chain []*x509.Certificate
	for _, der := range d.certificate.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// OfflineOptions say which certificate files to read.
type OfflineOptions struct {
	CertFile  string // leaf first, possibly followed by its chain
	ChainFile string // intermediates, optional
	CAFile    string // roots (empty: the system's)
	Name      string // host name to verify for (empty: none)
	At        time.Time
}

// Offline decodes and verifies a certificate chain from files.
func Offline(o OfflineOptions) (*Trace, error) {
	certs, err := LoadCertificates(o.CertFile)
	if err != nil {
		return nil, usagef("--cert: %v", err)
	}
	if o.ChainFile != "" {
		more, err := LoadCertificates(o.ChainFile)
		if err != nil {
			return nil, usagef("--chain: %v", err)
		}
		certs = append(certs, more...)
	}
	roots, rootsDesc, err := loadRoots(o.CAFile)
	if err != nil {
		return nil, err
	}
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	tr := &Trace{SchemaVersion: SchemaVersion, Mode: "offline", StartedAt: time.Now().UTC(), Records: []RecordInfo{}}
	tr.Certificates = &CertificatesInfo{SCTs: []SCTInfo{}}
	for i, c := range certs {
		tr.Certificates.Chain = append(tr.Certificates.Chain, describeCert(i, c, at))
	}
	tr.Verification = verifyChain(context.Background(), certs, roots, rootsDesc, o.Name, at, nil)
	return tr, nil
}

// offeredSuites is crypto/tls's secure TLS 1.2 suites plus the static-RSA
// ones it no longer offers by default, so that inspect can still reach (and
// show the weakness of) a server that knows nothing better. A server that
// supports forward secrecy picks it anyway.
func offeredSuites() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	return append(ids, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA)
}
