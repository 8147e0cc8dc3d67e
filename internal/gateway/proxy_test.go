package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundRobinSpreadsRequests(t *testing.T) {
	a, b := newUpstream(t, nil), newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: a.URL}, {URL: b.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	for range 10 {
		tg.get(t, "https://localhost/")
	}
	if a.count() != 5 || b.count() != 5 {
		t.Errorf("round robin split %d/%d, want 5/5", a.count(), b.count())
	}
}

func TestLeastConnAvoidsBusyUpstream(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	busy := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
	})
	idle := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Balance: "least_conn", Upstreams: []Upstream{{URL: busy.URL}, {URL: idle.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	// Park one request on whichever upstream gets it; retry until it is "busy".
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 4 {
			resp, err := tg.client.Get("https://localhost/hold")
			if err == nil {
				resp.Body.Close()
			}
			if busy.count() > 0 {
				return
			}
		}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the holding request never reached the busy upstream")
	}
	before := idle.count()
	for range 6 {
		tg.get(t, "https://localhost/quick")
	}
	close(release)
	<-done
	if got := idle.count() - before; got != 6 {
		t.Errorf("least_conn sent %d of 6 requests to the idle upstream while the other was busy", got)
	}
}

func TestHealthCheckTakesFailingUpstreamOut(t *testing.T) {
	var healthy atomic.Bool
	sick := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && !healthy.Load() {
			w.WriteHeader(503)
		}
	})
	well := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: sick.URL}, {URL: well.URL}},
		HealthCheck: &HealthCheck{Path: "/health", Interval: 20 * time.Millisecond, Unhealthy: 1, Healthy: 1}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	waitFor(t, "the sick upstream to be marked down", func() bool {
		return metricValue(t, tg, `tlsgate_upstream_healthy{upstream="`+sick.URL+`"}`) == 0
	})
	sickBefore := countPath(sick, "/")
	for range 6 {
		tg.get(t, "https://localhost/")
	}
	if got := countPath(sick, "/") - sickBefore; got != 0 {
		t.Errorf("%d requests went to an upstream failing its health check", got)
	}
	healthy.Store(true)
	waitFor(t, "the upstream to come back", func() bool {
		return metricValue(t, tg, `tlsgate_upstream_healthy{upstream="`+sick.URL+`"}`) == 1
	})
}

func countPath(u *upstream, path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.reqs {
		if r.URL.Path == path {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to 10 seconds; it is a bound, not a timing
// assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPassiveEjectionSkipsDeadUpstream(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	alive := newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: dead}, {URL: alive.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	fails := 0
	for range 20 {
		resp, _ := tg.get(t, "https://localhost/")
		if resp.StatusCode == 502 {
			fails++
		}
	}
	if fails > ejectAfter {
		t.Errorf("%d requests failed on a dead upstream; it should be ejected after %d", fails, ejectAfter)
	}
	if alive.count() < 20-ejectAfter {
		t.Errorf("the live upstream served only %d", alive.count())
	}
}

func TestStreamingAndSSEPassThrough(t *testing.T) {
	next := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	for _, h2 := range []bool{true, false} {
		for _, path := range []string{"/events", "/chunked"} {
			c := tg.newClient(h2)
			resp, err := c.Get("https://localhost" + path)
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(resp.Body)
			// Each event must arrive while the upstream is still waiting to
			// send the next one: nothing is buffered to the end.
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil || line != fmt.Sprintf("data: %d\n", i) {
					t.Fatalf("h2=%v %s: event %d = %q, %v", h2, path, i, line, err)
				}
				br.ReadString('\n')
				next <- struct{}{}
			}
			resp.Body.Close()
			c.CloseIdleConnections()
		}
	}
}

// newEchoUpgradeUpstream answers a WebSocket upgrade with 101 and then
// echoes every line until the client closes.
func newEchoUpgradeUpstream(t *testing.T) *upstream {
	return newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo " + line)
			brw.Flush()
		}
	})
}

func TestWebSocketUpgradePassesThrough(t *testing.T) {
	up := newEchoUpgradeUpstream(t)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d", resp.StatusCode)
	}
	for _, msg := range []string{"hello\n", "world\n"} {
		io.WriteString(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != "echo "+msg {
			t.Fatalf("echo = %q, %v", got, err)
		}
	}
}

func TestUnixSocketUpstream(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "unix %s host=%s", r.URL.Path, r.Host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: "unix:" + sock}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	_, body := tg.get(t, "https://localhost/sock")
	if string(body) != "unix /sock host=localhost" {
		t.Errorf("got %q", body)
	}
}

func TestHTTPSUpstreamWithItsOwnCAOverHTTP2(t *testing.T) {
	var proto atomic.Value
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		io.WriteString(w, "secure upstream")
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	pool := up.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}},
		UpstreamTLS: &tls.Config{RootCAs: pool}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	resp, body := tg.get(t, "https://localhost/")
	if resp.StatusCode != 200 || string(body) != "secure upstream" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if proto.Load() != "HTTP/2.0" {
		t.Errorf("upstream spoke %v, want HTTP/2.0", proto.Load())
	}
	// Without the upstream's CA the gateway refuses to talk to it.
	site2, roots2 := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg2 := startGateway(t, &Config{Sites: []*Site{site2}}, roots2)
	resp, body = tg2.get(t, "https://localhost/")
	if resp.StatusCode != 502 {
		t.Errorf("unverifiable upstream: %d %s, want 502", resp.StatusCode, body)
	}
}

func TestReloadSwapsRoutesAndRefusesInvalid(t *testing.T) {
	a, b := newUpstream(t, nil), newUpstream(t, nil)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: a.URL}}})
	cfg := &Config{Sites: []*Site{site}}
	tg := startGateway(t, cfg, roots)
	// Keep a connection open across the reload.
	tg.get(t, "https://localhost/")
	next := *cfg
	site2 := *site
	site2.Routes = []*Route{{PathPrefix: "/", Upstreams: []Upstream{{URL: b.URL}}}}
	next.Sites = []*Site{&site2}
	if err := tg.g.Reload(&next); err != nil {
		t.Fatal(err)
	}
	tg.get(t, "https://localhost/")
	if a.count() != 1 || b.count() != 1 {
		t.Errorf("after reload a=%d b=%d, want the new upstream to get the request", a.count(), b.count())
	}
	if v := metricValue(t, tg, `tlsgate_upstream_healthy{upstream="`+a.URL+`"}`); v != 0 {
		t.Errorf("the removed upstream still has a health series (%v)", v)
	}
	if v := metricValue(t, tg, `tlsgate_upstream_healthy{upstream="`+b.URL+`"}`); v != 1 {
		t.Errorf("the new upstream's health series = %v, want 1", v)
	}
	bad := next
	bad.Sites = []*Site{{Name: "x", Hosts: []string{"bad host"}}}
	if err := tg.g.Reload(&bad); err == nil {
		t.Fatal("an invalid configuration was accepted")
	}
	tg.get(t, "https://localhost/")
	if b.count() != 2 {
		t.Error("a refused reload changed what is served")
	}
	moved := next
	moved.Listen = "127.0.0.1:1"
	if err := tg.g.Reload(&moved); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("moving a listener: err = %v, want a restart hint", err)
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}})
	tg := startGateway(t, &Config{Sites: []*Site{site}}, roots)
	var wg sync.WaitGroup
	var body []byte
	var status int
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := tg.client.Get("https://localhost/")
		if err != nil {
			return
		}
		status = resp.StatusCode
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}()
	<-entered
	shut := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- tg.g.Shutdown(ctx)
	}()
	// New connections are refused once shutdown began.
	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", tg.https, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	wg.Wait()
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if status != 200 || string(body) != "finished" {
		t.Errorf("in-flight request got %d %q, want it finished", status, body)
	}
}

func TestConnectionLimit(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	tg := startGateway(t, &Config{Sites: []*Site{site}, Limits: Limits{MaxConns: 1}}, roots)
	// Hold the only slot with a raw TCP connection.
	hold, err := net.DialTimeout("tcp", tg.https, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := tg.newClient(false)
	c.Timeout = 300 * time.Millisecond
	if _, err := c.Get("https://localhost/"); err == nil {
		t.Fatal("a second connection was served beyond the limit of 1")
	}
	hold.Close()
	c.Timeout = 10 * time.Second
	waitFor(t, "the slot to free", func() bool {
		resp, err := c.Get("https://localhost/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}
