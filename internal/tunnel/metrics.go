package tunnel

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
)

// Metrics are the counters a tunnel exports on its admin listener. The TLS
// and certificate metrics carry the same names as the gateway's.
type Metrics struct {
	reg *prometheus.Registry

	connections       *prometheus.CounterVec // by result
	open              prometheus.Gauge
	bytes             *prometheus.CounterVec // by direction
	duration          prometheus.Histogram
	handshakes        *prometheus.CounterVec
	handshakeFailures *prometheus.CounterVec // by reason
	denials           *prometheus.CounterVec // by reason, rule
	targetUp          prometheus.Gauge
	certReloads       *prometheus.CounterVec
	certExpiry        *prometheus.GaugeVec

	up, down      prometheus.Counter
	targetDown    atomic.Bool
	targetChecked atomic.Bool // a connection to the target has been tried
}

// setTargetUp records whether the target accepts connections.
func (m *Metrics) setTargetUp(up bool) {
	m.targetChecked.Store(true)
	m.targetDown.Store(!up)
	if up {
		m.targetUp.Set(1)
	} else {
		m.targetUp.Set(0)
	}
}

// NewMetrics registers the tunnel's metrics, plus Go and process metrics, in
// reg; nil means a fresh registry.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		reg: reg,
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_tunnel_connections_total",
			Help: "Accepted connections by result: ok, handshake_failed, denied, refused_by_target, target_down, target_unreachable, idle_timeout, too_many_connections, error.",
		}, []string{"result"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlsgate_open_connections", Help: "Connections open on the tunnel listener.",
		}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_tunnel_bytes_total",
			Help: "Payload bytes relayed: up is from the accepted side to the target, down the reverse.",
		}, []string{"direction"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tlsgate_tunnel_connection_duration_seconds", Help: "Lifetime of relayed connections.",
			Buckets: []float64{.01, .1, 1, 10, 60, 600, 3600},
		}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_tls_handshakes_total", Help: "Completed TLS handshakes by version, cipher suite, key-exchange group and resumption.",
		}, []string{"version", "suite", "group", "resumed"}),
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_tls_handshake_failures_total", Help: "Failed TLS handshakes by reason.",
		}, []string{"reason"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_authz_denials_total", Help: "Verified clients refused by the access rules, by reason and rule.",
		}, []string{"reason", "rule"}),
		targetUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlsgate_tunnel_target_up", Help: "1 while the target accepts connections, 0 while it is down.",
		}),
		certReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_certificate_reloads_total", Help: "Certificate file reloads by file and result (ok or error).",
		}, []string{"cert", "result"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tlsgate_certificate_expiry_timestamp_seconds", Help: "NotAfter of each presented certificate, as a Unix time.",
		}, []string{"cert"}),
	}
	m.up = m.bytes.WithLabelValues("up")
	m.down = m.bytes.WithLabelValues("down")
	// Zero series for every failure reason, so alerts on a rate see the
	// first failure rather than the appearance of a series.
	for _, r := range certcheck.Reasons() {
		if r != certcheck.ReasonOK {
			m.handshakeFailures.WithLabelValues(string(r))
		}
	}
	for _, r := range []string{"pin_mismatch", "not_tls", "timeout", "peer_closed", "protocol_version", "no_shared_parameters", "other"} {
		m.handshakeFailures.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "handshake_failed", "denied", "refused_by_target", "target_down", "target_unreachable", "idle_timeout", resultTooManyConnections, "error"} {
		m.connections.WithLabelValues(r)
	}
	reg.MustRegister(m.connections, m.open, m.bytes, m.duration, m.handshakes, m.handshakeFailures,
		m.denials, m.targetUp, m.certReloads, m.certExpiry,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// CertificateReloaded counts a reload of a certificate file; it has the
// signature of certsource.FilesOptions.OnReload.
func (m *Metrics) CertificateReloaded(certFile string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.certReloads.WithLabelValues(certFile, result).Inc()
}

// CertificateExpiry records the NotAfter of a presented certificate.
func (m *Metrics) CertificateExpiry(name string, notAfter time.Time) {
	m.certExpiry.WithLabelValues(name).Set(float64(notAfter.Unix()))
}

func (m *Metrics) countHandshake(cs tls.ConnectionState) {
	resumed := "false"
	if cs.DidResume {
		resumed = "true"
	}
	m.handshakes.WithLabelValues(tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID.String(), resumed).Inc()
}

// AdminHandler serves /metrics, /healthz and /readyz (503 until a first
// connection to the target has succeeded and while it is down), and, when
// deny is not nil,
// the deny-list at /deny: GET lists it, POST adds and DELETE removes the
// entry given as JSON {"entry": "serial:0A:1B", "note": "..."}. Adding an
// entry closes the open connections of the identities it names.
func (m *Metrics) AdminHandler(deny *authz.DenyList) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	// Ready while the target accepts connections: an orchestrator can take
	// the tunnel out of rotation while its service is down.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !m.targetChecked.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("target not checked yet\n"))
			return
		}
		if m.targetDown.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("target down\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	if deny != nil {
		mux.HandleFunc("GET /deny", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"entries": deny.Entries()})
		})
		mux.HandleFunc("POST /deny", func(w http.ResponseWriter, r *http.Request) { changeDenyList(w, r, deny.Add) })
		mux.HandleFunc("DELETE /deny", func(w http.ResponseWriter, r *http.Request) { changeDenyList(w, r, deny.Remove) })
	}
	return mux
}

// denyRequest is the body of POST and DELETE /deny.
type denyRequest struct {
	Entry string `json:"entry"`
	Note  string `json:"note,omitempty"`
}

func changeDenyList(w http.ResponseWriter, r *http.Request, change func(authz.DenyEntry) bool) {
	var req denyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("body: %v; send {\"entry\": \"serial:HEX\"} or {\"entry\": \"spki:sha256/BASE64\"}", err)})
		return
	}
	e, err := authz.ParseDenyEntry(req.Entry)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	e.Note = req.Note
	changed := change(e)
	writeJSON(w, http.StatusOK, map[string]any{"entry": e.String(), "changed": changed})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ServeAdmin serves the admin handler on ln until ctx is done.
func (m *Metrics) ServeAdmin(ctx context.Context, ln net.Listener, deny *authz.DenyList, log *slog.Logger) error {
	srv := &http.Server{Handler: m.AdminHandler(deny), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer stop()
	if log != nil {
		log.Info("admin listener serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin listener %s: %w", ln.Addr(), err)
	}
	return nil
}
