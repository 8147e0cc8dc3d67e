package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func serveConfig(port int, path string) string {
	return fmt.Sprintf("listen: 127.0.0.1:%d\nhttp_listen: \"off\"\nadmin: \"off\"\naccess_log: {output: \"off\"}\nsites:\n  - hosts: [localhost]\n    routes:\n      - {path: %s, handler: whoami}\n", port, path)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeReloadsOnSIGHUP runs serve in this process, changes the file
// and sends SIGHUP: the new routes must be served and the process must
// stop cleanly (exit 0) when its context ends.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	path := filepath.Join(dir, "tlsgate.yaml")
	if err := os.WriteFile(path, []byte(serveConfig(port, "/")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--home", filepath.Join(dir, "home"), "serve", "--config", path}, io.Discard, stderr)
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the trust path is tested elsewhere; this test is about reload
	}}
	status := func(p string) int {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d%s", port, p))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, "serve to answer", func() bool { return status("/x") == 200 })
	if err := os.WriteFile(path, []byte(serveConfig(port, "/only")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload", func() bool { return status("/x") == 404 && status("/only") == 200 })
	if !strings.Contains(stderr.String(), "SIGHUP: reloading") {
		t.Errorf("SIGHUP not logged:\n%s", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}
