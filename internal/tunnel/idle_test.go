package tunnel

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// idleRig is a tunnel in one mode between the test's client and the test's
// target, so that a test can hold both ends of a relayed connection.
type idleRig struct {
	t     *testing.T
	addr  string
	mode  Mode
	conns chan net.Conn // target ends, each after its first byte
	lb    *logBuffer
	m     *Metrics
	dial  func() net.Conn
}

// startIdleRig starts a tunnel with the given idle timeout. Its target
// hands a connection to the test once the connection's first byte has
// come, which leaves out the client tunnel's start-up check.
func startIdleRig(t *testing.T, mode Mode, idle time.Duration) *idleRig {
	t.Helper()
	f := testpki.Good(t, testpki.ECDSAP256)
	r := &idleRig{t: t, mode: mode, conns: make(chan net.Conn)}
	done := make(chan struct{})
	ln := listenLoopback(t)
	serveEach(t, ln, func(c net.Conn) {
		if mode == ModeClient {
			tc := tls.Server(c, fixtureTLS(f))
			if tc.Handshake() != nil {
				return
			}
			c = tc
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return
		}
		select {
		case r.conns <- c:
			<-done
		case <-done:
		}
	})
	opts, lb := testOptions(t, ln.Addr().String())
	opts.IdleTimeout = idle
	r.lb = lb
	if mode == ModeServer {
		cert := f.TLSCertificate()
		s, err := NewServer(ServerConfig{Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
		if err != nil {
			t.Fatal(err)
		}
		r.addr, _ = serveInBackground(t, s.Serve)
		r.m = s.m
		r.dial = func() net.Conn {
			c, err := dialTLS(t, r.addr, &tls.Config{RootCAs: f.Roots, ServerName: f.ServerName})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	} else {
		c, err := NewClient(ClientConfig{Options: opts, RootCAs: f.Roots, ServerName: f.ServerName})
		if err != nil {
			t.Fatal(err)
		}
		r.addr, _ = serveInBackground(t, c.Serve)
		r.m = c.m
		r.dial = func() net.Conn { return dial(t, r.addr) }
	}
	// Runs before the tunnel stops, so that its drain finds the target
	// ends closed.
	t.Cleanup(func() { close(done) })
	return r
}

// connect opens a connection through the tunnel, sends one byte and
// returns the client's end and the target's, and when the byte was sent:
// the tunnel cannot have seen it move earlier.
func (r *idleRig) connect() (client, target net.Conn, sent time.Time) {
	r.t.Helper()
	client = r.dial()
	client.SetDeadline(time.Now().Add(testTimeout))
	sent = time.Now()
	if _, err := client.Write([]byte{'x'}); err != nil {
		r.t.Fatal(err)
	}
	select {
	case target = <-r.conns:
	case <-time.After(testTimeout):
		r.t.Fatal("the target did not receive the first byte")
	}
	return client, target, sent
}

// waitValue polls a counter or gauge until it reads want.
func waitValue(t *testing.T, what string, m prometheus.Metric, want float64) {
	t.Helper()
	poll(t, func() (bool, string) {
		got := counterValue(t, m)
		return got == want, fmt.Sprintf("%s is %v, want %v", what, got, want)
	})
}

// exchange checks that the connection still carries bytes both ways.
func exchange(t *testing.T, client, target net.Conn) {
	t.Helper()
	for _, p := range [][2]net.Conn{{client, target}, {target, client}} {
		p[0].SetDeadline(time.Now().Add(testTimeout))
		p[1].SetDeadline(time.Now().Add(testTimeout))
		if _, err := p[0].Write([]byte("ping")); err != nil {
			t.Fatalf("connection closed: %v", err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(p[1], buf); err != nil || string(buf) != "ping" {
			t.Fatalf("read %q, %v; want ping", buf, err)
		}
	}
}

// TestIdleTimeoutClosesBothSides leaves a connection silent after its first
// byte: the tunnel closes both ends once the timeout has passed, logs and
// counts the connection as idle_timeout, and holds it open no more.
func TestIdleTimeoutClosesBothSides(t *testing.T) {
	const idle = 200 * time.Millisecond
	for _, mode := range []Mode{ModeServer, ModeClient} {
		t.Run(string(mode), func(t *testing.T) {
			r := startIdleRig(t, mode, idle)
			client, target, sent := r.connect()
			expectClosed(t, client)
			expectClosed(t, target)
			if took := time.Since(sent); took < idle {
				t.Errorf("closed %v after the last byte, before the idle timeout of %v", took, idle)
			}
			r.lb.waitFor(t, "connection closed: idle timeout", "result=idle_timeout", "idle_timeout=200ms", "mode="+string(mode))
			waitValue(t, "tlsgate_open_connections", r.m.open, 0)
			waitValue(t, `connections{result="idle_timeout"}`, r.m.connections.WithLabelValues("idle_timeout"), 1)
			if got := counterValue(t, r.m.connections.WithLabelValues("ok")); got != 0 {
				t.Errorf(`connections{result="ok"} = %v, want 0: the idle connection was counted twice`, got)
			}
			if log := r.lb.String(); strings.Contains(log, "error=") {
				t.Errorf("the idle close logged an error:\n%s", log)
			}
		})
	}
}

// TestIdleTimeoutSparesOneWayTraffic sends a byte every 50 ms one way for
// several idle timeouts while the other side only reads: a download, or
// an upload, is not idle. The timeout leaves a stall of 450 ms between two
// bytes to a loaded machine.
func TestIdleTimeoutSparesOneWayTraffic(t *testing.T) {
	const (
		idle  = 500 * time.Millisecond
		every = 50 * time.Millisecond
		count = 30 // 1.5 s, three idle timeouts
	)
	for _, dir := range []string{"up", "down"} {
		t.Run(dir, func(t *testing.T) {
			r := startIdleRig(t, ModeServer, idle)
			client, target, _ := r.connect()
			src, dst := client, target
			if dir == "down" {
				src, dst = target, client
			}
			got := make(chan error, 1)
			go func() {
				buf := make([]byte, count)
				_, err := io.ReadFull(dst, buf)
				got <- err
			}()
			for i := range count {
				if _, err := src.Write([]byte{byte(i)}); err != nil {
					t.Fatalf("write %d, after %v: %v", i, time.Duration(i)*every, err)
				}
				time.Sleep(every)
			}
			if err := <-got; err != nil {
				t.Fatalf("reading the %s stream: %v", dir, err)
			}
			exchange(t, client, target)
			if n := counterValue(t, r.m.connections.WithLabelValues("idle_timeout")); n != 0 {
				t.Errorf(`connections{result="idle_timeout"} = %v, want 0`, n)
			}
		})
	}
}

// TestIdleTimeoutFreesStalledRelay has one side stop reading while the
// other writes until every buffer on the way is full: the relay goroutine
// blocked in its write returns once the timeout has passed, the
// connection closes and gives back its relay buffers.
func TestIdleTimeoutFreesStalledRelay(t *testing.T) {
	for _, stalled := range []string{"target", "client"} {
		t.Run(stalled+" stops reading", func(t *testing.T) {
			r := startIdleRig(t, ModeServer, 200*time.Millisecond)
			before := buffersHeld.Load()
			client, target, _ := r.connect()
			writer := client
			if stalled == "client" {
				writer = target
			}
			const total = 64 << 20 // far more than the socket buffers hold
			wrote := make(chan error, 1)
			go func() {
				buf := make([]byte, 256<<10)
				for sent := 0; sent < total; sent += len(buf) {
					if _, err := writer.Write(buf); err != nil {
						wrote <- err
						return
					}
				}
				wrote <- nil
			}()
			waitValue(t, "tlsgate_open_connections", r.m.open, 0)
			waitValue(t, `connections{result="idle_timeout"}`, r.m.connections.WithLabelValues("idle_timeout"), 1)
			select {
			case err := <-wrote:
				var ne net.Error
				if err == nil {
					t.Fatalf("the %s's peer took all %d bytes; want it stalled", stalled, total)
				}
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("the writer was not cut off: %v", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("the writer is still blocked after the connection closed")
			}
			poll(t, func() (bool, string) {
				held := buffersHeld.Load() - before
				return held <= 0, fmt.Sprintf("the closed connection still holds %d relay buffers", held)
			})
		})
	}
}

// TestIdleTimeoutDisabled keeps a silent connection open with
// NoIdleTimeout, which the tunnel warns about when it starts.
func TestIdleTimeoutDisabled(t *testing.T) {
	r := startIdleRig(t, ModeServer, NoIdleTimeout)
	r.lb.waitFor(t, "level=WARN", "idle timeout disabled")
	client, target, _ := r.connect()
	// Silent for three times the timeout the other tests close at.
	time.Sleep(600 * time.Millisecond)
	exchange(t, client, target)
	if n := counterValue(t, r.m.connections.WithLabelValues("idle_timeout")); n != 0 {
		t.Errorf(`connections{result="idle_timeout"} = %v, want 0`, n)
	}
	if n := counterValue(t, r.m.open); n != 1 {
		t.Errorf("tlsgate_open_connections = %v, want 1", n)
	}
}

func TestIdleTimeoutDefault(t *testing.T) {
	for _, tc := range []struct{ set, want time.Duration }{
		{0, DefaultIdleTimeout},
		{NoIdleTimeout, NoIdleTimeout},
		{time.Minute, time.Minute},
	} {
		o := Options{IdleTimeout: tc.set}
		o.setDefaults()
		if o.IdleTimeout != tc.want {
			t.Errorf("IdleTimeout %v becomes %v, want %v", tc.set, o.IdleTimeout, tc.want)
		}
	}
	if w := watchIdle(NoIdleTimeout, nil, func() { t.Error("closed") }); w != nil {
		t.Error("a negative idle timeout still watches the connection")
	}
}

// BenchmarkIdleWatchMoved is what the relay pays per read or write that
// moved bytes, against the tens of microseconds a relay buffer's system
// call takes; BenchmarkBulkTransfer shows the whole relay.
func BenchmarkIdleWatchMoved(b *testing.B) {
	w := watchIdle(time.Hour, nil, func() {})
	defer w.stop()
	for b.Loop() {
		w.moved()
	}
}

// TestIdleTimeoutSparesSlowReader has the target send 512 KiB at once to a
// client that reads 4 KiB every 10 ms through small socket buffers: one
// relay write of 256 KiB then lasts longer than the idle timeout, while
// bytes move all along. The connection must not be cut.
func TestIdleTimeoutSparesSlowReader(t *testing.T) {
	const (
		idle  = 200 * time.Millisecond
		total = 512 << 10
	)
	client, accepted := tcpPair(t)
	target, targetEnd := tcpPair(t)
	// Small, but not so small that TCP's window updates stall.
	accepted.(*net.TCPConn).SetWriteBuffer(32 << 10)
	client.(*net.TCPConn).SetReadBuffer(32 << 10)
	up := &byteCount{counter: prometheus.NewCounter(prometheus.CounterOpts{Name: "up"})}
	down := &byteCount{counter: prometheus.NewCounter(prometheus.CounterOpts{Name: "down"})}
	type result struct {
		idled bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		idled, err := relay(end{Conn: accepted}, end{Conn: target}, up, down, idle)
		done <- result{idled, err}
	}()
	go targetEnd.Write(make([]byte, total))
	readSlowly(t, client, total)
	client.Close()
	targetEnd.Close()
	select {
	case r := <-done:
		if r.idled {
			t.Error("the relay reports an idle timeout")
		}
	case <-time.After(testTimeout):
		t.Fatal("the relay did not end")
	}
}

// TestIdleTimeoutSparesSlowTLSReader is the same through a server tunnel:
// the tunnel hands 512 KiB to the kernel at once, and a TLS client drains
// it at about 400 KB/s, for several idle timeouts after the tunnel's last
// write. Bytes still queued in the kernel and taken by the peer are
// progress.
func TestIdleTimeoutSparesSlowTLSReader(t *testing.T) {
	const (
		idle  = 300 * time.Millisecond
		total = 512 << 10
	)
	r := startIdleRig(t, ModeServer, idle)
	client, target, _ := r.connect()
	if tc, ok := client.(*tls.Conn); ok {
		tc.NetConn().(*net.TCPConn).SetReadBuffer(32 << 10)
	}
	go target.Write(make([]byte, total))
	readSlowly(t, client, total)
	exchange(t, client, target)
	if n := counterValue(t, r.m.connections.WithLabelValues("idle_timeout")); n != 0 {
		t.Errorf(`connections{result="idle_timeout"} = %v, want 0`, n)
	}
}

// readSlowly reads total bytes from c, 4 KiB every 10 ms, and fails if the
// connection ends first.
func readSlowly(t *testing.T, c net.Conn, total int) {
	t.Helper()
	c.SetDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, 4<<10)
	for got := 0; got < total; {
		n, err := c.Read(buf)
		got += n
		if err != nil {
			t.Fatalf("cut after %d of %d bytes while they moved steadily: %v", got, total, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
