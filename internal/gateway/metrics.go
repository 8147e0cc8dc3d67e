package gateway

import (
	"crypto/tls"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

type metrics struct {
	reg               *prometheus.Registry
	requests          *prometheus.CounterVec
	duration          *prometheus.HistogramVec
	handshakes        *prometheus.CounterVec
	handshakeFailures *prometheus.CounterVec
	certExpiry        *prometheus.GaugeVec
	certReloads       *prometheus.CounterVec
	upstreamUp        *prometheus.GaugeVec
	upstreamErrors    *prometheus.CounterVec
	reloads           *prometheus.CounterVec
	redirects         prometheus.Counter
	openConns         prometheus.Gauge
	clientDenials     *prometheus.CounterVec

	// Counters of the two handshake vectors by label values: the labels
	// take few values (versions, suites, groups; failure reasons), so
	// these stay small.
	handshakeCounters sync.Map // handshakeKey -> prometheus.Counter
	failureCounters   sync.Map // reason -> prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_http_requests_total", Help: "HTTPS requests by site, route and status code.",
		}, []string{"site", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tlsgate_http_request_duration_seconds", Help: "Time from request headers to the end of the response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"site", "route"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_tls_handshakes_total", Help: "Completed TLS handshakes by version, cipher suite, key-exchange group and resumption.",
		}, []string{"version", "suite", "group", "resumed"}),
		handshakeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_tls_handshake_failures_total", Help: "Failed TLS handshakes by reason.",
		}, []string{"reason"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tlsgate_certificate_expiry_timestamp_seconds", Help: "NotAfter of each served certificate, as a Unix time.",
		}, []string{"site", "name"}),
		upstreamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tlsgate_upstream_healthy", Help: "1 when the upstream passes its health check, else 0.",
		}, []string{"upstream"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_upstream_errors_total", Help: "Failed upstream exchanges by reason.",
		}, []string{"upstream", "reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_config_reloads_total", Help: "Configuration reloads by result.",
		}, []string{"result"}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tlsgate_http_redirects_total", Help: "Plain HTTP requests redirected to HTTPS.",
		}),
		openConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tlsgate_open_connections", Help: "Client connections open on the HTTPS listener.",
		}),
		clientDenials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tlsgate_client_auth_denials_total",
			Help: "Requests refused by client authentication, by site, route and reason (no_certificate, no_rule_matched, deny_listed, revoked, revocation_unknown, or the certcheck reason of a certificate that did not verify); closed connections of deny-listed clients have empty site and route.",
		}, []string{"site", "route", "reason"}),
	}
	m.certReloads = certReloadsVec(reg)
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.handshakes, m.handshakeFailures,
		m.certExpiry, m.upstreamUp, m.upstreamErrors, m.reloads, m.redirects, m.openConns, m.clientDenials,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		registerOrReuse(reg, c)
	}
	return m
}

func registerOrReuse(reg *prometheus.Registry, c prometheus.Collector) prometheus.Collector {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector
		}
	}
	return c
}

func certReloadsVec(reg *prometheus.Registry) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tlsgate_certificate_reloads_total", Help: "Certificate file reloads by file and result (ok or error).",
	}, []string{"cert", "result"})
	return registerOrReuse(reg, v).(*prometheus.CounterVec)
}

func newCertReloadCounter(reg *prometheus.Registry) func(string, error) {
	v := certReloadsVec(reg)
	return func(cert string, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		v.WithLabelValues(cert, result).Inc()
	}
}

func (m *metrics) certReload(cert string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.certReloads.WithLabelValues(cert, result).Inc()
}

// handshakeKey is what tlsgate_tls_handshakes_total is labelled by.
type handshakeKey struct {
	version, suite uint16
	group          tls.CurveID
	resumed        bool
}

// countHandshake counts a completed handshake. Its counter is looked up by
// label values once per kind of handshake, not once per handshake.
func (m *metrics) countHandshake(cs *tls.ConnectionState) {
	k := handshakeKey{cs.Version, cs.CipherSuite, cs.CurveID, cs.DidResume}
	if c, ok := m.handshakeCounters.Load(k); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.handshakes.WithLabelValues(tlspolicy.VersionName(k.version), tlspolicy.CipherSuiteName(k.suite),
		tlspolicy.GroupName(k.group), strconv.FormatBool(k.resumed))
	m.handshakeCounters.Store(k, c)
	c.Inc()
}

// handshakeFailed counts a failed handshake by its reason.
func (m *metrics) handshakeFailed(reason string) {
	if c, ok := m.failureCounters.Load(reason); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := m.handshakeFailures.WithLabelValues(reason)
	m.failureCounters.Store(reason, c)
	c.Inc()
}

func (m *metrics) unrouted(status int) {
	m.requests.WithLabelValues("", "", strconv.Itoa(status)).Inc()
}

// routeMetrics caches a route's label lookups so that a request only
// touches atomics.
type routeMetrics struct {
	m          *metrics
	site, name string
	latency    prometheus.Observer
	codes      [500]atomic.Pointer[prometheus.Counter] // index: status-100
}

func (m *metrics) forRoute(site, name string) *routeMetrics {
	return &routeMetrics{m: m, site: site, name: name, latency: m.duration.WithLabelValues(site, name)}
}

func (rm *routeMetrics) observe(status int, d time.Duration) {
	rm.latency.Observe(d.Seconds())
	i := status - 100
	if i < 0 || i >= len(rm.codes) {
		rm.m.requests.WithLabelValues(rm.site, rm.name, strconv.Itoa(status)).Inc()
		return
	}
	c := rm.codes[i].Load()
	if c == nil {
		cnt := rm.m.requests.WithLabelValues(rm.site, rm.name, strconv.Itoa(status))
		rm.codes[i].Store(&cnt)
		c = &cnt
	}
	(*c).Inc()
}
