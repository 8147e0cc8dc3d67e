package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawUpstream accepts connections on loopback and runs script for each
// request it reads; it counts connections so tests can see reuse.
type rawUpstream struct {
	ln    net.Listener
	conns atomic.Int32
	reqs  atomic.Int32
}

// script answers one request on c; returning false closes the connection.
type script func(c net.Conn, req *http.Request, n int) bool

func newRawUpstream(t *testing.T, s script) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if !s(c, req, int(u.reqs.Add(1))) {
						return
					}
				}
			}()
		}
	}()
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

func testH1Transport(t *testing.T, headerTimeout time.Duration) *h1Transport {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	fb := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute}
	tr := newH1Transport(fb, d.DialContext, headerTimeout)
	t.Cleanup(tr.close)
	return tr
}

func roundTrip(t *testing.T, tr http.RoundTripper, method, url string) (*http.Response, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

func reply(c net.Conn, s string) bool {
	_, err := io.WriteString(c, s)
	return err == nil
}

func TestH1TransportReusesOneConnection(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		switch req.URL.Path {
		case "/chunked":
			return reply(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n")
		case "/empty":
			return reply(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
		return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	})
	tr := testH1Transport(t, 0)
	for i := range 20 {
		resp, body, err := roundTrip(t, tr, http.MethodGet, up.url()+"/")
		if err != nil || resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("request %d: %v %v %q", i, err, resp, body)
		}
	}
	resp, body, err := roundTrip(t, tr, http.MethodGet, up.url()+"/chunked")
	if err != nil || body != "abc" || resp.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("chunked: %v body %q trailer %v", err, body, resp.Trailer)
	}
	if resp, _, err := roundTrip(t, tr, http.MethodGet, up.url()+"/empty"); err != nil || resp.StatusCode != 204 {
		t.Fatalf("204: %v %v", err, resp)
	}
	if resp, body, err := roundTrip(t, tr, http.MethodHead, up.url()+"/"); err != nil || resp.ContentLength != 5 || body != "" {
		t.Fatalf("HEAD: %v %v %q", err, resp, body)
	}
	if got := up.conns.Load(); got != 1 {
		t.Errorf("23 sequential requests used %d upstream connections, want 1", got)
	}
}

func TestH1TransportRetriesOnConnectionClosedWhileIdle(t *testing.T) {
	// The upstream answers once per connection and then hangs up, like a
	// server whose keep-alive timeout is shorter than the gateway's.
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return false
	})
	tr := testH1Transport(t, 0)
	for i := range 5 {
		if _, body, err := roundTrip(t, tr, http.MethodGet, up.url()+"/"); err != nil || body != "ok" {
			t.Fatalf("request %d after the upstream closed the pooled connection: %v %q", i, err, body)
		}
		time.Sleep(10 * time.Millisecond) // let the close arrive
	}
	if got := up.reqs.Load(); got != 5 {
		t.Errorf("upstream saw %d requests, want 5 (a retry must only follow a connection that never answered)", got)
	}
}

func TestH1TransportDoesNotReuseConnectionsItMustNot(t *testing.T) {
	for _, tc := range []struct{ name, answer string }{
		// Bytes after the declared body: another request on that connection
		// would read this upstream's leftovers as its answer.
		{"framing mismatch", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsmuggl"},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool { return reply(c, tc.answer) })
			tr := testH1Transport(t, 0)
			for range 3 {
				if _, body, err := roundTrip(t, tr, http.MethodGet, up.url()+"/"); err != nil || body != "ok" {
					t.Fatalf("got %v %q, want ok", err, body)
				}
				time.Sleep(10 * time.Millisecond) // anything extra arrives with the response
			}
			if got := up.conns.Load(); got != 3 {
				t.Errorf("%d connections for 3 requests, want 3: a connection was reused", got)
			}
		})
	}
}

func TestH1TransportResponseHeaderTimeout(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		time.Sleep(500 * time.Millisecond)
		return false
	})
	tr := testH1Transport(t, 100*time.Millisecond)
	start := time.Now()
	_, _, err := roundTrip(t, tr, http.MethodGet, up.url()+"/")
	if !isTimeout(err) {
		t.Fatalf("got %v, want a timeout error", err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("timeout after %v, want about 100ms", d)
	}
}

func TestH1TransportClientGoneMidBodyClosesConnection(t *testing.T) {
	release := make(chan struct{})
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf.")
		<-release
		return false
	})
	defer close(release)
	tr := testH1Transport(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.url()+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { _, err := resp.Body.Read(buf); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("read after cancel succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled request kept waiting for the upstream's body")
	}
	resp.Body.Close()
	tr.mu.Lock()
	idle := len(tr.idle[up.ln.Addr().String()])
	tr.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d idle connections after an aborted body, want 0", idle)
	}
}

func TestH1TransportBoundsResponseHeaders(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		reply(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Big: " + strings.Repeat("a", 1000) + "\r\n"
		for range 2000 {
			if !reply(c, line) {
				return false
			}
		}
		return false
	})
	tr := testH1Transport(t, 0)
	if _, _, err := roundTrip(t, tr, http.MethodGet, up.url()+"/"); !errors.Is(err, errResponseHeadersTooLarge) {
		t.Fatalf("got %v, want %v", err, errResponseHeadersTooLarge)
	}
}

func TestH1TransportPassesInformationalResponses(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		return reply(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := testH1Transport(t, 0)
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, up.url()+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || len(hints) != 1 || hints[0] != "</s.css>; rel=preload" {
		t.Fatalf("status %d body %q hints %q", resp.StatusCode, body, hints)
	}
}

func TestH1TransportLeavesBodiesAndUpgradesToFallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func(url string) *http.Request
	}{
		{"POST with a body", func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("x"))
			return r
		}},
		{"bodyless POST", func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, nil)
			return r
		}},
		{"upgrade", func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, url, nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		}},
		{"https", func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "https"+strings.TrimPrefix(url, "http"), nil)
			return r
		}},
	} {
		if fastPath(tc.req("http://127.0.0.1:1/")) {
			t.Errorf("%s took the fast path", tc.name)
		}
	}
	if !fastPath(func() *http.Request { r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil); return r }()) {
		t.Error("a plain GET did not take the fast path")
	}
}

func TestH1TransportStopsPoolingWhenClosed(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := testH1Transport(t, 0)
	if _, _, err := roundTrip(t, tr, http.MethodGet, up.url()+"/"); err != nil {
		t.Fatal(err)
	}
	tr.close()
	if _, _, err := roundTrip(t, tr, http.MethodGet, up.url()+"/"); err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	n := 0
	for _, list := range tr.idle {
		n += len(list)
	}
	tr.mu.Unlock()
	if n != 0 {
		t.Errorf("closed transport pooled %d connections", n)
	}
	if got := up.conns.Load(); got != 2 {
		t.Errorf("%d upstream connections, want 2 (the pooled one closed on close)", got)
	}
}

func TestH1TransportNeverResendsAfterHeaderTimeout(t *testing.T) {
	var slow atomic.Int32
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		if req.URL.Path == "/slow" {
			slow.Add(1)
			time.Sleep(300 * time.Millisecond)
			return false
		}
		return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := testH1Transport(t, 100*time.Millisecond)
	warmPool(t, tr, up, 3)
	if _, _, err := roundTrip(t, tr, http.MethodGet, up.url()+"/slow"); !isTimeout(err) {
		t.Fatalf("got %v, want a timeout", err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := slow.Load(); got != 1 {
		t.Errorf("the upstream received the timed-out request %d times, want 1", got)
	}
}

func TestH1TransportReplaysOnlyWhatHTTPTransportWould(t *testing.T) {
	for _, tc := range []struct {
		method, key string
		want        int32
	}{
		{http.MethodDelete, "", 1},
		{http.MethodDelete, "Idempotency-Key", 2},
		{http.MethodGet, "", 2},
	} {
		t.Run(tc.method+tc.key, func(t *testing.T) {
			var seen atomic.Int32
			up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
				if req.URL.Path == "/orders/7" && seen.Add(1) == 1 {
					return false // did the work, then the connection broke
				}
				return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			})
			tr := testH1Transport(t, 0)
			warmPool(t, tr, up, 2)
			req, _ := http.NewRequest(tc.method, up.url()+"/orders/7", nil)
			if tc.key != "" {
				req.Header.Set(tc.key, "k1")
			}
			if resp, err := tr.RoundTrip(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			time.Sleep(50 * time.Millisecond)
			if got := seen.Load(); got != tc.want {
				t.Errorf("the upstream received the request %d times, want %d", got, tc.want)
			}
		})
	}
}

func TestH1TransportDropsIdleConnectionsThatSpokeOutOfTurn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script script
	}{
		// A body to HEAD: the stray bytes arrive after the pooled
		// connection was released and would answer the next client.
		{"body after HEAD", func(c net.Conn, req *http.Request, n int) bool {
			if req.Method == http.MethodHead {
				reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n")
				time.Sleep(30 * time.Millisecond)
				return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL")
			}
			return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
		}},
		// A server that answers 408 on an idle keep-alive connection.
		{"408 while idle", func(c net.Conn, req *http.Request, n int) bool {
			reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
			time.Sleep(30 * time.Millisecond)
			reply(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			return false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t, tc.script)
			tr := testH1Transport(t, 0)
			if _, _, err := roundTrip(t, tr, http.MethodHead, up.url()+"/"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			resp, body, err := roundTrip(t, tr, http.MethodGet, up.url()+"/next-client")
			if err != nil || resp.StatusCode != 200 || body != "good" {
				t.Errorf("the next request got %v %q (err %v), want 200 good", resp, body, err)
			}
		})
	}
}

func TestH1TransportAbortRightAfterHeadersIsKept(t *testing.T) {
	var cancelCur atomic.Pointer[context.CancelFunc]
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
		if f := cancelCur.Load(); f != nil {
			(*f)()
		}
		time.Sleep(2 * time.Second) // a long poll
		return false
	})
	tr := testH1Transport(t, 5*time.Second)
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		ctx, cancel := context.WithCancel(context.Background())
		cancelCur.Store(&cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, up.url()+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			cancel()
			continue
		}
		start := time.Now()
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cancel()
		if d := time.Since(start); d > time.Second {
			t.Fatalf("request %d: the body of a cancelled request was read for %v: the abort was undone", i, d)
		}
	}
}

func TestH1TransportClosesConnectionsIdleTooLong(t *testing.T) {
	gate := make(chan struct{})
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		if req.URL.Path == "/pair" {
			<-gate
		}
		return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := testH1Transport(t, 0)
	tr.idleTimeout = 200 * time.Millisecond
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { roundTrip(t, tr, http.MethodGet, up.url()+"/pair") })
	}
	time.Sleep(100 * time.Millisecond)
	close(gate)
	wg.Wait()
	// Steady traffic keeps taking the newest connection; the older one
	// must still go once it has been idle too long.
	for range 12 {
		roundTrip(t, tr, http.MethodGet, up.url()+"/")
		time.Sleep(50 * time.Millisecond)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, list := range tr.idle {
		for _, pc := range list {
			if age := time.Since(pc.idleAt); age > 2*tr.idleTimeout {
				t.Errorf("a connection idle for %v is still pooled (idle timeout %v)", age, tr.idleTimeout)
			}
		}
	}
}

// warmPool leaves n idle connections to up in tr's pool.
func warmPool(t *testing.T, tr *h1Transport, up *rawUpstream, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { roundTrip(t, tr, http.MethodGet, up.url()+"/") })
	}
	wg.Wait()
}

func TestH1TransportClosesIdleConnectionsWithoutTraffic(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, req *http.Request, n int) bool {
		return reply(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr := testH1Transport(t, 0)
	tr.idleTimeout = 100 * time.Millisecond
	warmPool(t, tr, up, 2)
	pooled := func() int {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.idle[up.ln.Addr().String()])
	}
	if pooled() == 0 {
		t.Fatal("nothing pooled")
	}
	waitFor(t, "idle connections closed with no request to take them", func() bool { return pooled() == 0 })
}
