package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serveHTTPS is the entry point of every HTTPS request.
func (g *Gateway) serveHTTPS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.state.Load()
	if st.hstsHeader != nil {
		w.Header()["Strict-Transport-Security"] = st.hstsHeader
	}
	rec := getRecorder(w)
	defer putRecorder(rec)
	s, rt, serve := g.dispatch(st, rec, r)
	if serve {
		rt.handler.ServeHTTP(rec, r)
		if _, upgrade := r.Header["Upgrade"]; upgrade && g.upgradeEnded(r) {
			// The proxy wrote the 101 on the hijacked connection itself.
			rec.status = http.StatusSwitchingProtocols
		}
	}
	elapsed := time.Since(start)
	siteName, routeName := "", ""
	if rt != nil {
		rt.metrics.observe(rec.status, elapsed)
		siteName, routeName = rt.siteName, rt.name
	} else {
		if s != nil {
			siteName = s.name
		}
		g.metrics.unrouted(rec.status)
	}
	if st.accessLog != nil {
		st.accessLog.log(r, rec, start, elapsed, siteName, routeName)
	}
}

// dispatch applies the checks every request passes. It returns the site and
// route the request belongs to (for logs and metrics, nil when unknown) and
// whether the route should serve it; when not, dispatch has answered.
func (g *Gateway) dispatch(st *state, w *recorder, r *http.Request) (*site, *route, bool) {
	if st.rate != nil && !st.rate.allow(clientAddr(r, st.trusted)) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; slow down and retry")
		return nil, nil, false
	}
	host, ok := hostOnly(r.Host)
	if !ok || r.Host == "" {
		writeError(w, http.StatusBadRequest, "invalid_host", "the Host header is missing or not a valid host name")
		return nil, nil, false
	}
	s := st.hosts.lookup(host)
	sni := ""
	if r.TLS != nil {
		sni = normalizeHost(r.TLS.ServerName)
	}
	// The site the handshake chose, looked up again in the current
	// generation so that connections survive a reload.
	sniSite := st.hosts.fallback
	if sni != "" {
		if ss := st.hosts.lookup(sni); ss != nil {
			sniSite = ss
		}
	}
	switch {
	case s == nil && sni == "" && st.hosts.fallback != nil:
		s = st.hosts.fallback // IP literal or name-less client: the default site
	case s == nil:
		writeError(w, http.StatusMisdirectedRequest, "unknown_host", "no site serves host "+host)
		return nil, nil, false
	}
	if sniSite != s && (sniSite != nil || sni != "") {
		writeError(w, http.StatusMisdirectedRequest, "host_sni_mismatch",
			"the Host header names a different site than the TLS server name; connect with the host you request")
		return s, nil, false
	}
	if s.mtls && sni != "" && sni != host {
		writeError(w, http.StatusMisdirectedRequest, "host_sni_mismatch",
			"this site authenticates clients: the Host header must equal the TLS server name")
		return s, nil, false
	}
	rt := s.routes.match(r.URL.Path)
	if rt == nil {
		writeError(w, http.StatusNotFound, "no_route", "no route for this path")
		return s, nil, false
	}
	if !g.authorizeClient(w, r, rt) {
		return s, rt, false
	}
	if rt.authorize != nil {
		if err := rt.authorize(r); err != nil {
			writeError(w, http.StatusForbidden, "forbidden", err.Error())
			return s, rt, false
		}
	}
	if max := st.limits.MaxBodyBytes; max > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > max {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
				"request body is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes")
			return s, rt, false
		}
		if r.ContentLength < 0 {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
	}
	if rt.strip {
		stripPrefix(r, rt.prefix)
	}
	return s, rt, true
}

// publisherPath reports whether a plain HTTP path belongs to the local CA's
// publication (pki.Publisher), served instead of redirected.
func publisherPath(p string) bool {
	return p == "/ocsp" || strings.HasPrefix(p, "/ocsp/") || strings.HasPrefix(p, "/crl/") ||
		strings.HasPrefix(p, "/ca/") || strings.HasPrefix(p, "/root/")
}

func stripPrefix(r *http.Request, prefix string) {
	p := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(prefix, "/"))
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	r.URL.Path = p
	if r.URL.RawPath != "" {
		rp := strings.TrimPrefix(r.URL.RawPath, strings.TrimSuffix(prefix, "/"))
		if rp == "" || rp[0] != '/' {
			rp = "/" + rp
		}
		r.URL.RawPath = rp
	}
}

// serveRedirect answers every plain HTTP request with 308 to https, except
// ACME http-01 challenges.
func (g *Gateway) serveRedirect(w http.ResponseWriter, r *http.Request) {
	st := g.state.Load()
	if st.cfg.ACMEChallenge != nil && strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		st.cfg.ACMEChallenge.ServeHTTP(w, r)
		return
	}
	if st.cfg.CAPublisher != nil && publisherPath(r.URL.Path) {
		st.cfg.CAPublisher.ServeHTTP(w, r)
		return
	}
	host, ok := hostOnly(r.Host)
	if !ok || r.Host == "" {
		writeError(w, http.StatusBadRequest, "invalid_host", "the Host header is missing or not a valid host name")
		return
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	var b strings.Builder
	b.Grow(16 + len(host) + len(r.URL.RequestURI()))
	b.WriteString("https://")
	b.WriteString(host)
	if st.redirectPort != "" {
		b.WriteByte(':')
		b.WriteString(st.redirectPort)
	}
	b.WriteString(r.URL.RequestURI())
	w.Header().Set("Location", b.String())
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusPermanentRedirect)
	g.metrics.redirects.Inc()
}

// recorder captures status and size for metrics and logs and stays
// transparent to http.ResponseController (flush, hijack, deadlines).
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

var recorderPool = sync.Pool{New: func() any { return new(recorder) }}

func getRecorder(w http.ResponseWriter) *recorder {
	rec := recorderPool.Get().(*recorder)
	rec.ResponseWriter = w
	rec.status = http.StatusOK
	return rec
}

func putRecorder(rec *recorder) {
	*rec = recorder{}
	recorderPool.Put(rec)
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader && code >= 200 || code == http.StatusSwitchingProtocols {
		r.status = code
		r.wroteHeader = true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
