package tunnel

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// waitHeld polls until the tunnel holds want connection slots.
func waitHeld(t *testing.T, b *base, want int) {
	t.Helper()
	poll(t, func() (bool, string) {
		held := len(b.slots)
		return held == want, fmt.Sprintf("tunnel holds %d connection slots, want %d", held, want)
	})
}

// TestServerMaxConnsRefusesBeforeTheHandshake holds the only connection a
// server tunnel with MaxConns 1 allows: the next one is closed before any
// TLS (the certificate is never asked for), logged and counted once, and
// once the first has closed a new one passes again.
func TestServerMaxConnsRefusesBeforeTheHandshake(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	opts, lb := testOptions(t, echo)
	opts.MaxConns = 1
	cert := m.server.TLSCertificate()
	var certAsked atomic.Int32
	s, err := NewServer(ServerConfig{Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		certAsked.Add(1)
		return &cert, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, s.Serve)
	held, err := dialTLS(t, addr, m.clientTLS(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(held, "PING\r\n"); err != nil || got != "PING\r\n" {
		t.Fatalf("first connection: %q, %v", got, err)
	}
	over := dial(t, addr)
	// A ClientHello's worth of bytes that the tunnel must not answer.
	over.Write([]byte("\x16\x03\x01\x00\x05hello"))
	expectClosed(t, over)
	log := lb.waitFor(t, "result=too_many_connections")
	if n := strings.Count(log, "result=too_many_connections"); n != 1 {
		t.Errorf("%d log lines for one refused connection:\n%s", n, log)
	}
	if !strings.Contains(log, "level=WARN msg=\"connection refused\"") || !strings.Contains(log, "--max-conns") {
		t.Errorf("refusal not logged at warn naming --max-conns:\n%s", log)
	}
	if n := certAsked.Load(); n != 1 {
		t.Errorf("certificate asked for %d times; the refused connection must not reach the handshake", n)
	}
	if v := counterValue(t, s.m.connections.WithLabelValues(resultTooManyConnections)); v != 1 {
		t.Errorf("tlsgate_tunnel_connections_total{result=too_many_connections} = %v, want 1", v)
	}
	if got, err := roundTrip(held, "STILL\r\n"); err != nil || got != "STILL\r\n" {
		t.Errorf("held connection after the refusal: %q, %v", got, err)
	}
	held.Close()
	waitHeld(t, s.base, 0)
	again, err := dialTLS(t, addr, m.clientTLS(nil))
	if err == nil {
		_, err = roundTrip(again, "PING\r\n")
	}
	if err != nil {
		t.Errorf("connection after the first closed: %v", err)
	}
}

// TestMaxConnsReleasesOnEveryEnd ends connections every way a handler
// can end, one at a time under MaxConns 1: after each the slot is free
// again and the next connection gets through to its own end.
func TestMaxConnsReleasesOnEveryEnd(t *testing.T) {
	m := newMTLSSetup(t)
	echo, _ := startEcho(t)
	opts, lb := testOptions(t, echo)
	opts.MaxConns = 1
	opts.IdleTimeout = 300 * time.Millisecond
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{
		Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
		ClientAuth: ClientAuthOptional, ClientCAs: m.clientCA.Root().Pool(), Policy: mustPolicy(t, "uri:spiffe://corp.test/web"),
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, s.Serve)
	steps := []struct {
		result string
		run    func(t *testing.T)
	}{
		{"result=ok", func(t *testing.T) {
			c, err := dialTLS(t, addr, m.clientTLS(m.web))
			if err == nil {
				_, err = roundTrip(c, "PING\r\n")
			}
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}},
		{"result=handshake_failed", func(t *testing.T) {
			c := dial(t, addr)
			io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
			expectClosed(t, c)
		}},
		{"result=denied", func(t *testing.T) {
			c, err := dialTLS(t, addr, m.clientTLS(m.billing))
			if err == nil {
				_, err = roundTrip(c, "PING\r\n")
			}
			if err == nil {
				t.Fatal("a client no rule allows got through")
			}
		}},
		{"result=idle_timeout", func(t *testing.T) {
			c, err := dialTLS(t, addr, m.clientTLS(m.web))
			if err == nil {
				_, err = roundTrip(c, "PING\r\n")
			}
			if err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c) // by the idle timeout
		}},
		{"result=too_many_connections", func(t *testing.T) {
			held := dial(t, addr)
			waitHeld(t, s.base, 1)
			over := dial(t, addr)
			expectClosed(t, over)
			// Closed before any TLS: its handshake fails, and frees
			// the slot, which the loop waits for.
			held.Close()
		}},
	}
	for i, step := range steps {
		step.run(t)
		lb.waitFor(t, step.result)
		waitHeld(t, s.base, 0)
		if t.Failed() {
			t.Fatalf("after step %d (%s)", i, step.result)
		}
	}
	// After all that, the one slot takes a connection that works.
	c, err := dialTLS(t, addr, m.clientTLS(m.web))
	if err == nil {
		_, err = roundTrip(c, "PING\r\n")
	}
	if err != nil {
		t.Errorf("after every kind of end, a good client fails: %v", err)
	}
}

// TestClientMaxConnsRefusesBeforeDialling: in client mode a connection
// beyond the limit is closed before the target is dialled, and a
// connection whose target cannot be reached frees its slot.
func TestClientMaxConnsRefusesBeforeDialling(t *testing.T) {
	f := testpki.Good(t, testpki.ECDSAP256)
	tt := startTLSTarget(t, fixtureTLS(f))
	opts, lb := testOptions(t, tt.addr)
	opts.MaxConns = 1
	c, err := NewClient(ClientConfig{Options: opts, ServerName: f.ServerName, RootCAs: f.Roots})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveInBackground(t, c.Serve)
	lb.waitFor(t, "target answers")
	_, _, base := tt.captured()
	held := dial(t, addr)
	if got, err := roundTrip(held, "PING\r\n"); err != nil || got != "PING\r\n" {
		t.Fatalf("first connection: %q, %v", got, err)
	}
	over := dial(t, addr)
	expectClosed(t, over)
	lb.waitFor(t, "result=too_many_connections")
	held.Close()
	waitHeld(t, c.base, 0)
	if _, _, n := tt.captured(); n-base != 1 {
		t.Errorf("target saw %d handshakes, want only the held connection's", n-base)
	}
}

func mustPolicy(t *testing.T, rules ...string) *authz.Policy {
	t.Helper()
	p, err := authz.ParsePolicy(rules)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
