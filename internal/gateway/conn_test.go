package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// TestIdleConnectionMemory holds idle TLS connections (clients in a child
// process, so that only the server is measured) and checks what each
// costs the gateway: a small goroutine stack, because the handshake that
// needs a deep one runs elsewhere, and no net/http buffers until a request
// arrives (net/http's alone are 8 KiB). The bounds leave room for the race
// detector's larger frames.
func TestIdleConnectionMemory(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	const n = 300
	before := memNow(true)
	holdIdleClients(t, tg.g, n)
	var stack, heap float64
	for range 10 {
		after := memNow(true)
		stack = (float64(after.stackInuse) - float64(before.stackInuse)) / n
		heap = (float64(after.heapAlloc) - float64(before.heapAlloc)) / n
		if stack <= 12<<10 && heap <= 8<<10 {
			return
		}
		time.Sleep(50 * time.Millisecond) // goroutines still parking
	}
	t.Errorf("an idle connection holds %.0f bytes of goroutine stack and %.0f bytes of heap, want at most 12 KiB of stack (a handshake leaves 16 KiB) and 8 KiB of heap", stack, heap)
}

// TestHandshakersAreBoundedAndEnd: after a burst of handshakes at most
// maxIdleHandshakers goroutines stay for the next ones, and none outlives
// the gateway.
func TestHandshakersAreBoundedAndEnd(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	cfg := &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}}
	const n = 3 * maxIdleHandshakers
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
	}
	wg.Wait()
	waitFor(t, "every handshake counted", func() bool { return handshakesCounted(t, tg.g) >= n })
	waitFor(t, "handshakers back to waiting", func() bool { return handshakersRunning(false) == handshakersRunning(true) })
	if got := handshakersRunning(true); got < 1 || got > maxIdleHandshakers {
		t.Errorf("%d handshake goroutines wait after a burst of %d, want 1 to %d", got, n, maxIdleHandshakers)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tg.g.Shutdown(ctx)
	waitFor(t, "no handshake goroutine after shutdown", func() bool { return handshakersRunning(false) == 0 })
}

// handshakersRunning counts the goroutines in handshaker, or only those
// waiting for a connection.
func handshakersRunning(waitingOnly bool) int {
	var b strings.Builder
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	count := 0
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		if !strings.Contains(g, "gateway.(*handshakeListener).handshaker(") {
			continue
		}
		if waitingOnly && !strings.Contains(g, "[select") {
			continue
		}
		count++
	}
	return count
}

// TestOpenConnectionsGauge counts connections from their accept, through
// the handshake and the wait for a first request, to their close, failed
// handshakes included.
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
	// One that made a request and stays open (keep-alive).
	client := tg.newClient(false)
	if resp, err := client.Get("https://localhost/"); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	waitFor(t, "3 open connections", func() bool { return open() == 3 })
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
	client.CloseIdleConnections()
	waitFor(t, "no open connections", func() bool { return open() == 0 })
}

// TestShutdownEndsConnectionsWithoutRequest: neither a client that never
// finished its handshake nor one that never sent a request holds Shutdown
// up until its deadline.
func TestShutdownEndsConnectionsWithoutRequest(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{ReadHeaderTimeout: time.Minute}}, roots)
	raw, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	idle, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	waitFor(t, "both connections accepted", func() bool { return metricValue(t, tg, "tlsgate_open_connections") == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tg.g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for name, c := range map[string]net.Conn{"handshaking": raw, "idle": idle} {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the %s connection was not closed by Shutdown: %v", name, err)
		}
	}
}

// TestDenyListClosesConnectionWithoutRequest: a verified client that has
// not sent its first request yet (its connection still waits in the
// gateway, not in net/http) is closed when it is denied, and counted
// closed.
func TestDenyListClosesConnectionWithoutRequest(t *testing.T) {
	mg := startMTLS(t, false)
	billing := mg.issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}})
	conn := mg.dialHTTP1(t, billing)
	waitFor(t, "the handshake counted", func() bool { return handshakesCounted(t, mg.g) >= 1 })
	entry, err := authz.ParseDenyEntry("serial:" + billing.Leaf.SerialNumber.Text(16))
	if err != nil {
		t.Fatal(err)
	}
	mg.g.DenyList().Add(entry)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection of the denied client is still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection of the denied client was not closed within 10s")
	}
	waitFor(t, "no open connections", func() bool { return metricValue(t, mg.testGateway, "tlsgate_open_connections") == 0 })
}

// alpnSource is a certificate source whose site offers another ALPN
// protocol too, as the ACME source offers acme-tls/1.
type alpnSource struct {
	certsource.Source
	proto string
}

func (a alpnSource) ALPNProtocols() []string { return []string{a.proto} }

// TestNonHTTPProtocolIsClosedAtOnce: a connection that negotiated a
// protocol net/http does not serve (acme-tls/1, used only to present a
// validation certificate) is closed after its handshake, not held until
// the header timeout like a client yet to send its request.
func TestNonHTTPProtocolIsClosedAtOnce(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	site.Certs = alpnSource{Source: site.Certs, proto: "acme-tls/1"}
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{ReadHeaderTimeout: time.Minute}}, roots)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"acme-tls/1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "acme-tls/1" {
		t.Fatalf("negotiated %q, want acme-tls/1", p)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the gateway kept an acme-tls/1 connection open: %v", err)
	}
}

// TestFirstRequestHeaderDeadline: the first read deadline net/http sets,
// the one for the first request's headers, cannot reach past the one that
// ran from the end of the handshake; later ones are net/http's own.
func TestFirstRequestHeaderDeadline(t *testing.T) {
	fromHandshake := time.Now().Add(10 * time.Second)
	for _, tc := range []struct {
		name     string
		set      time.Time
		want     time.Time
		thenSet  time.Time
		thenWant time.Time
	}{
		{"later", fromHandshake.Add(5 * time.Second), fromHandshake, fromHandshake.Add(time.Hour), fromHandshake.Add(time.Hour)},
		{"none", time.Time{}, fromHandshake, time.Time{}, time.Time{}},
		{"earlier", fromHandshake.Add(-time.Second), fromHandshake.Add(-time.Second), fromHandshake.Add(time.Hour), fromHandshake.Add(time.Hour)},
	} {
		c := &servedConn{headerDeadline: fromHandshake}
		if got := c.clamp(tc.set); !got.Equal(tc.want) {
			t.Errorf("%s: first deadline %v, want %v", tc.name, got, tc.want)
		}
		if got := c.clamp(tc.thenSet); !got.Equal(tc.thenWant) {
			t.Errorf("%s: next deadline %v, want %v", tc.name, got, tc.thenWant)
		}
	}
	c := &servedConn{}
	if d := time.Now().Add(time.Minute); !c.clamp(d).Equal(d) {
		t.Error("a connection without a header timeout had its deadline changed")
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
// Read the first run of a process: later ones reuse memory the first freed,
// so their sys-B/conn and rss-B/conn come out low.
//
// It reports, per connection: heap in use as the process sees it
// (heap-B/conn, garbage included), live heap after a collection
// (live-B/conn), goroutine stacks before and after that collection
// (stack-B/conn, stack-gc-B/conn), memory the runtime holds from the
// system, less what it gave back (sys-B/conn), resident memory
// (rss-B/conn) and goroutines (goroutines/conn).
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
	before := memNow(true)
	b.ResetTimer()
	holdIdleClients(b, g, n)
	b.StopTimer()
	held := memNow(false)
	live := memNow(true)
	per := func(after, base uint64) float64 { return (float64(after) - float64(base)) / float64(n) }
	b.ReportMetric(per(held.heapInuse, before.heapInuse), "heap-B/conn")
	b.ReportMetric(per(live.heapAlloc, before.heapAlloc), "live-B/conn")
	b.ReportMetric(per(held.stackInuse, before.stackInuse), "stack-B/conn")
	b.ReportMetric(per(live.stackInuse, before.stackInuse), "stack-gc-B/conn")
	b.ReportMetric(per(held.sys, before.sys), "sys-B/conn")
	b.ReportMetric(per(held.rss, before.rss), "rss-B/conn")
	b.ReportMetric(per(uint64(held.goroutines), uint64(before.goroutines)), "goroutines/conn")
	b.ReportMetric(0, "ns/op")
}

type memSample struct {
	heapInuse, heapAlloc, stackInuse, sys, rss uint64
	goroutines                                 int
}

func memNow(collect bool) memSample {
	if collect {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, stackInuse: ms.StackInuse,
		sys: ms.Sys - ms.HeapReleased, rss: residentBytes(), goroutines: runtime.NumGoroutine()}
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

// holdIdleClients opens n idle TLS connections to g from a child process
// and returns once g has completed every handshake; they close at the end
// of the test.
func holdIdleClients(tb testing.TB, g *Gateway, n int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleClientEnv+"="+g.Addr(ListenerHTTPS).String()+","+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		tb.Fatalf("idle client: %q, %v", line, err)
	}
	if ok, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready "))); ok != n {
		tb.Fatalf("idle client opened %d of %d connections", ok, n)
	}
	// The client returns from its handshake before the server has read its
	// Finished message: wait until the server has counted every handshake.
	deadline := time.Now().Add(30 * time.Second)
	for handshakesCounted(tb, g) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("server completed %d of %d handshakes", handshakesCounted(tb, g), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // session tickets written, readers parked
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
