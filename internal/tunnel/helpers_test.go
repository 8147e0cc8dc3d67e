package tunnel

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every network wait in these tests.
const testTimeout = 10 * time.Second

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// poll calls check every 5 ms until it reports done, and fails the test
// with check's last description of the state once testTimeout has passed.
func poll(t testing.TB, check func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls the log until it holds every one of want.
func (l *logBuffer) waitFor(t *testing.T, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		s := l.String()
		ok := true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("log does not show %q:\n%s", want, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testOptions(t *testing.T, target string) (Options, *logBuffer) {
	lb := &logBuffer{}
	return Options{
		Target:           target,
		Logger:           slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})),
		DrainTimeout:     2 * time.Second,
		DialTimeout:      testTimeout,
		HandshakeTimeout: testTimeout,
	}, lb
}

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveInBackground runs serve until the test ends and checks it returns.
func serveInBackground(t testing.TB, serve func(context.Context, net.Listener) error) (addr string, stop func()) {
	t.Helper()
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(testTimeout):
				t.Errorf("Serve did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// recordingConn keeps every byte read from the network.
type recordingConn struct {
	net.Conn
	mu  *sync.Mutex
	raw *bytes.Buffer
}

func (r recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.raw.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

// tlsTarget is an echo service behind TLS that captures what clients send:
// the raw bytes on the wire and the application bytes after decryption.
type tlsTarget struct {
	addr string
	mu   sync.Mutex
	raw  bytes.Buffer
	app  bytes.Buffer
	ok   int // completed handshakes
}

func (tt *tlsTarget) captured() (raw, app []byte, handshakes int) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return bytes.Clone(tt.raw.Bytes()), bytes.Clone(tt.app.Bytes()), tt.ok
}

func startTLSTarget(t testing.TB, cfg *tls.Config) *tlsTarget {
	t.Helper()
	ln := listenLoopback(t)
	tt := &tlsTarget{addr: ln.Addr().String()}
	serveEach(t, ln, func(c net.Conn) {
		tc := tls.Server(recordingConn{Conn: c, mu: &tt.mu, raw: &tt.raw}, cfg)
		if tc.Handshake() != nil {
			// Read on: a client that goes on sending after a failed
			// handshake would show up in the capture.
			io.Copy(io.Discard, recordingConn{Conn: c, mu: &tt.mu, raw: &tt.raw})
			return
		}
		tt.mu.Lock()
		tt.ok++
		tt.mu.Unlock()
		buf := make([]byte, 32<<10)
		for {
			n, err := tc.Read(buf)
			tt.mu.Lock()
			tt.app.Write(buf[:n])
			tt.mu.Unlock()
			if n > 0 {
				tc.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
	return tt
}

// serveEach closes ln when the test ends and runs handle on a goroutine of
// its own for every connection accepted on it, with the test's deadline set
// and the connection closed when handle returns.
func serveEach(t testing.TB, ln net.Listener, handle func(c net.Conn)) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				handle(c)
			}()
		}
	}()
}

// startEcho runs a plaintext echo service, as the target of server mode.
func startEcho(t testing.TB) (addr string, accepted func() int) {
	t.Helper()
	ln := listenLoopback(t)
	var mu sync.Mutex
	n := 0
	serveEach(t, ln, func(c net.Conn) {
		mu.Lock()
		n++
		mu.Unlock()
		c.SetDeadline(time.Time{}) // an echo lives as long as its client
		io.Copy(c, c)
	})
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// roundTrip writes msg on c and reads the same number of bytes back.
func roundTrip(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectClosed checks that the tunnel closes c without sending anything.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(testTimeout))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil {
		t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection still open; want it closed")
	}
}

func timeNowPlus() time.Time { return time.Now().Add(testTimeout) }

// counterValue reads a Prometheus counter or gauge.
func counterValue(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", &m)
	return 0
}
