package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// TestIdleConnectionKeepsSmallStack holds idle TLS connections and checks
// that the goroutine serving each keeps the smallest stack: the handshake,
// which needs a deep one, runs elsewhere (handshakeListener).
func TestIdleConnectionKeepsSmallStack(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	cfg := &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}}
	const n = 200
	before := memNow(true)
	conns := make([]*tls.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https, cfg)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitUntil(t, "every handshake counted", func() bool { return handshakesCounted(t, tg.g) >= n })
	// The client side keeps no goroutines; the server's handshake
	// goroutines have ended and their stacks are freed by a collection.
	var perConn uint64
	for range 10 {
		after := memNow(true)
		perConn = (after.stackInuse - before.stackInuse) / n
		if perConn <= 12<<10 {
			return
		}
		time.Sleep(50 * time.Millisecond) // readers still parking
	}
	t.Errorf("idle connections hold %d bytes of goroutine stack each, want the smallest stack (8 KiB)", perConn)
}

// TestOpenConnectionsGauge counts connections from their accept, through
// the handshake, to their close, failed handshakes included.
func TestOpenConnectionsGauge(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	open := func() float64 { return metricValue(t, tg, "tlsgate_open_connections") }
	// One connection that has not started its handshake, one that finished it.
	raw, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitUntil(t, "2 open connections", func() bool { return open() == 2 })
	// A failed handshake: plain HTTP on the HTTPS port.
	p, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(p, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	answer, _ := io.ReadAll(p)
	p.Close()
	if !strings.HasPrefix(string(answer), "HTTP/1.0 400 Bad Request") {
		t.Errorf("plain HTTP on the HTTPS port answered %q, want 400", answer)
	}
	raw.Close()
	c.Close()
	waitUntil(t, "no open connections", func() bool { return open() == 0 })
}

// TestShutdownEndsHandshakesInFlight: a client that connected but never
// finished its handshake does not hold Shutdown up until its deadline.
func TestShutdownEndsHandshakesInFlight(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{ReadHeaderTimeout: time.Minute}}, roots)
	raw, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	waitUntil(t, "the connection accepted", func() bool { return metricValue(t, tg, "tlsgate_open_connections") == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tg.g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, raw); err != nil {
		t.Errorf("the handshaking connection was not closed by Shutdown: %v", err)
	}
}

// waitUntil polls cond for up to 10 seconds: a bound, not a timing assertion.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkIdleConnMemory measures what the gateway holds per idle TLS
// connection: b.N clients in a child process complete a TLS 1.3 handshake
// (X25519, ECDSA P-256) and send nothing, as in the idle test of the
// benchmark harness. The child holds the client side so that only the
// server's memory is counted. Run with a fixed count, for example:
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 5000x ./internal/gateway
//
// It reports, per connection: heap in use as the process sees it
// (heap-B/conn, garbage included), live heap after a collection
// (live-B/conn), goroutine stacks before and after that collection
// (stack-B/conn, stack-gc-B/conn), resident memory (rss-B/conn) and
// goroutines (goroutines/conn).
func BenchmarkIdleConnMemory(b *testing.B) {
	n := b.N
	if n > 20000 {
		b.Skipf("b.N = %d connections is more than this benchmark opens; use -benchtime 5000x", n)
	}
	src, err := certsource.NewStatic(testpki.Good(b, testpki.ECDSAP256).TLSCertificate())
	if err != nil {
		b.Fatal(err)
	}
	site := &Site{Name: "main", Hosts: []string{"localhost"}, Certs: src,
		Routes: []*Route{{PathPrefix: "/", Builtin: "whoami"}}}
	cfg := &Config{
		Listen: "127.0.0.1:0",
		Sites:  []*Site{site},
		Limits: Limits{ReadHeaderTimeout: 5 * time.Minute, IdleTimeout: 5 * time.Minute, MaxConns: -1},
	}
	g, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	addr := g.Addr(ListenerHTTPS).String()

	before := memNow(true)
	b.ResetTimer()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleClientEnv+"="+addr+","+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		b.Fatalf("idle client: %q, %v", line, err)
	}
	if ok, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready "))); ok != n {
		b.Fatalf("idle client opened %d of %d connections", ok, n)
	}
	// The client returns from its handshake before the server has read its
	// Finished message: wait until the server has counted every handshake.
	deadline := time.Now().Add(30 * time.Second)
	for handshakesCounted(b, g) < n {
		if time.Now().After(deadline) {
			b.Fatalf("server completed %d of %d handshakes", handshakesCounted(b, g), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // session tickets written, readers parked
	b.StopTimer()
	held := memNow(false)
	live := memNow(true)
	per := func(after, base uint64) float64 { return (float64(after) - float64(base)) / float64(n) }
	b.ReportMetric(per(held.heapInuse, before.heapInuse), "heap-B/conn")
	b.ReportMetric(per(live.heapAlloc, before.heapAlloc), "live-B/conn")
	b.ReportMetric(per(held.stackInuse, before.stackInuse), "stack-B/conn")
	b.ReportMetric(per(live.stackInuse, before.stackInuse), "stack-gc-B/conn")
	b.ReportMetric(per(held.rss, before.rss), "rss-B/conn")
	b.ReportMetric(per(uint64(held.goroutines), uint64(before.goroutines)), "goroutines/conn")
	b.ReportMetric(0, "ns/op")
}

type memSample struct {
	heapInuse, heapAlloc, stackInuse, rss uint64
	goroutines                            int
}

func memNow(collect bool) memSample {
	if collect {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, stackInuse: ms.StackInuse,
		rss: residentBytes(), goroutines: runtime.NumGoroutine()}
}

// residentBytes is VmRSS from /proc/self/status, 0 where there is none.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func handshakesCounted(t testing.TB, g *Gateway) int {
	mfs, err := g.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "tlsgate_tls_handshakes_total" {
			for _, m := range mf.GetMetric() {
				total += counterValue(m)
			}
		}
	}
	return int(total)
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}

// idleClientEnv makes the test binary an idle client: "ADDR,N" opens N TLS
// connections to ADDR, prints "ready OK" and holds them until its standard
// input closes.
const idleClientEnv = "TLSGATE_TEST_IDLE_CLIENT"

func init() {
	spec := os.Getenv(idleClientEnv)
	if spec == "" {
		return
	}
	addr, count, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(count)
	os.Exit(runIdleClient(addr, n))
}

func runIdleClient(addr string, n int) int {
	cfg := &tls.Config{
		ServerName:         "localhost",
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
	}
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var d net.Dialer
				raw, err := d.DialContext(ctx, "tcp", addr)
				if err == nil {
					c := tls.Client(raw, cfg)
					if err = c.HandshakeContext(ctx); err == nil {
						conns[i] = c
					} else {
						raw.Close()
					}
				}
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	ok := 0
	for _, c := range conns {
		if c != nil {
			ok++
		}
	}
	fmt.Printf("ready %d\n", ok)
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "idle client: %v\n", firstErr)
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return 0
}
