package tunnel

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
)

// backgroundGoroutines lists the goroutines Serve starts besides the
// connections', by the function they run.
var backgroundGoroutines = []string{"tunnel.(*target).check", "tunnel.(*target).probe", "authz.(*DenyList).Watch"}

// running returns which of backgroundGoroutines run now.
func running() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var got []string
	for _, name := range backgroundGoroutines {
		if strings.Contains(string(buf), name+"(") {
			got = append(got, name)
		}
	}
	return got
}

// waitRunning polls until the goroutines that run are exactly want.
func waitRunning(t *testing.T, want ...string) {
	t.Helper()
	poll(t, func() (bool, string) {
		got := running()
		return strings.Join(got, " ") == strings.Join(want, " "), fmt.Sprintf("background goroutines running: %q, want %q", got, want)
	})
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeWaitsForItsGoroutinesWhenTheListenerFails closes the listener
// under Serve while the target is down, so that the prober runs with its
// long backoff and the context of Serve is never cancelled: Serve must
// still stop and wait for the prober and the deny-list watcher it started.
func TestServeWaitsForItsGoroutinesWhenTheListenerFails(t *testing.T) {
	m := newMTLSSetup(t)
	for _, mode := range []Mode{ModeServer, ModeClient} {
		t.Run(string(mode), func(t *testing.T) {
			waitRunning(t) // nothing left over from earlier tests
			opts, lb := testOptions(t, closedPort(t))
			var serve func(context.Context, net.Listener) error
			want := []string{"tunnel.(*target).probe"}
			if mode == ModeServer {
				cert := m.server.TLSCertificate()
				s, err := NewServer(ServerConfig{
					Options:        opts,
					GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
					DenyList:       authz.NewDenyList(),
				})
				if err != nil {
					t.Fatal(err)
				}
				serve = s.Serve
				want = append(want, "authz.(*DenyList).Watch")
			} else {
				c, err := NewClient(ClientConfig{Options: opts, RootCAs: m.server.Roots})
				if err != nil {
					t.Fatal(err)
				}
				serve = c.Serve
			}
			ln := listenLoopback(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel() // only after the checks below
			done := make(chan error, 1)
			go func() { done <- serve(ctx, ln) }()
			lb.waitFor(t, "target does not answer yet")
			waitRunning(t, want...)
			ln.Close()
			select {
			case err := <-done:
				if err == nil {
					t.Error("Serve returned no error for a failed listener")
				}
			case <-time.After(testTimeout):
				t.Fatal("Serve did not return after its listener failed")
			}
			if got := running(); len(got) != 0 {
				t.Errorf("Serve returned and left %q running", got)
			}
		})
	}
}

// A Serve whose listener failed while the target was down, then Serve
// again on a new listener of the same Server once the target is back:
// the second Serve must reach the target.
func TestServeAgainAfterListenerFailure(t *testing.T) {
	m := newMTLSSetup(t)
	// A port for the target, closed for now.
	tln := listenLoopback(t)
	taddr := tln.Addr().String()
	tln.Close()
	opts, lb := testOptions(t, taddr)
	opts.DrainTimeout = 200 * time.Millisecond
	cert := m.server.TLSCertificate()
	s, err := NewServer(ServerConfig{Options: opts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln1 := listenLoopback(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln1) }()
	lb.waitFor(t, "target does not answer yet")
	// A client's failed dial marks the target down.
	if c, err := dialTLS(t, ln1.Addr().String(), m.clientTLS(nil)); err == nil {
		roundTrip(c, "PING\r\n")
		c.Close()
	}
	lb.waitFor(t, "target is down")
	ln1.Close()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return")
	}
	// The target comes up on its port.
	tln2, err := net.Listen("tcp", taddr)
	if err != nil {
		t.Skip("target port taken:", err)
	}
	serveEach(t, tln2, func(c net.Conn) {
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
	ln2 := listenLoopback(t)
	go func() { done <- s.Serve(ctx, ln2) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := dialTLS(t, ln2.Addr().String(), m.clientTLS(nil))
		if err == nil {
			got, err2 := roundTrip(c, "PING\r\n")
			c.Close()
			if err2 == nil && got == "PING\r\n" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second Serve never reached the target that is up again:\n%s", lb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
