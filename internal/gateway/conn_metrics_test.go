package gateway

import (
	"crypto/tls"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// TestHandshakeCountersByKind checks that the cached counters keep each
// kind of handshake and each failure reason in its own series.
func TestHandshakeCountersByKind(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	full := &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, CurveID: tls.X25519}
	resumed := *full
	resumed.DidResume = true
	tls12 := &tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, CurveID: tls.X25519}
	for range 3 {
		m.countHandshake(full)
	}
	m.countHandshake(&resumed)
	m.countHandshake(tls12)
	m.countHandshake(tls12)
	for range 2 {
		m.handshakeFailed("not_tls")
	}
	m.handshakeFailed("timeout")
	x25519 := tlspolicy.GroupName(tls.X25519)
	for _, c := range []struct {
		counter prometheus.Counter
		want    float64
	}{
		{m.handshakes.WithLabelValues("TLS 1.3", "TLS_AES_128_GCM_SHA256", x25519, "false"), 3},
		{m.handshakes.WithLabelValues("TLS 1.3", "TLS_AES_128_GCM_SHA256", x25519, "true"), 1},
		{m.handshakes.WithLabelValues("TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", x25519, "false"), 2},
		{m.handshakeFailures.WithLabelValues("not_tls"), 2},
		{m.handshakeFailures.WithLabelValues("timeout"), 1},
	} {
		var v dto.Metric
		if err := c.counter.Write(&v); err != nil {
			t.Fatal(err)
		}
		if got := counterValue(&v); got != c.want {
			t.Errorf("%v %v = %v, want %v", c.counter.Desc(), v.GetLabel(), got, c.want)
		}
	}
}

func BenchmarkCountHandshake(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry())
	cs := &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256, CurveID: tls.X25519}
	b.ReportAllocs()
	for b.Loop() {
		m.countHandshake(cs)
	}
}
