package tunnel

import (
	"context"
	"crypto/tls"
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
	deadline := time.Now().Add(testTimeout)
	for {
		got := running()
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background goroutines running: %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
