package tunnel

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// startRedis runs a throwaway redis-server on a free loopback port, without
// persistence, and stops it when the test ends.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := testtool.Need(t, "redis-server")
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no", "--protected-mode", "yes")
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(testTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not listen on %s: %v\n%s", addr, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisCLI runs redis-cli with a timeout and returns its trimmed output.
func redisCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testtool.Need(t, "redis-cli")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func hostPort(addr string) []string {
	h, p, _ := net.SplitHostPort(addr)
	return []string{"-h", h, "-p", p}
}

// connectionsReceived asks redis, directly, how many connections it has
// accepted so far.
func connectionsReceived(t *testing.T, redisAddr string) int {
	t.Helper()
	out, err := redisCLI(t, append(hostPort(redisAddr), "INFO", "stats")...)
	if err != nil {
		t.Fatalf("redis-cli INFO: %v: %s", err, out)
	}
	m := regexp.MustCompile(`total_connections_received:(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no total_connections_received in INFO stats:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestRedisThroughServerTunnel puts a real redis-server behind a server-mode
// tunnel with mTLS and talks to it with redis-cli over TLS, then with plain
// redis-cli through a client-mode tunnel in front.
func TestRedisThroughServerTunnel(t *testing.T) {
	redisAddr := startRedis(t)
	testtool.Need(t, "redis-cli")
	m := newMTLSSetup(t)
	dir := t.TempDir()
	billing := m.billing.WriteFiles(t, mkdir(t, dir, "billing"))
	web := m.web.WriteFiles(t, mkdir(t, dir, "web"))
	serverRoot := filepath.Join(dir, "server-root.pem")
	if err := os.WriteFile(serverRoot, m.server.Issued.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	tunnelAddr, serverLog, _ := m.startServer(t, redisAddr, ClientAuthRequire, nil, "uri:spiffe://corp.test/billing")
	cli := func(certChain, key string, cmd ...string) (string, error) {
		args := append(hostPort(tunnelAddr), "--tls", "--cacert", serverRoot, "--sni", "localhost")
		if certChain != "" {
			args = append(args, "--cert", certChain, "--key", key)
		}
		return redisCLI(t, append(args, cmd...)...)
	}

	if out, err := cli(billing.Chain, billing.Key, "SET", "greeting", "hello over TLS"); err != nil || out != "OK" {
		t.Fatalf("redis-cli SET through the tunnel: %q, %v", out, err)
	}
	if out, err := cli(billing.Chain, billing.Key, "GET", "greeting"); err != nil || out != "hello over TLS" {
		t.Fatalf("redis-cli GET through the tunnel: %q, %v", out, err)
	}
	serverLog.waitFor(t, "peer=spiffe://corp.test/billing", "result=ok")

	before := connectionsReceived(t, redisAddr)
	for _, c := range []struct{ name, cert, key, reason string }{
		{"other identity", web.Chain, web.Key, "reason=no_rule_matched"},
		{"no certificate", "", "", "reason=no_certificate"},
	} {
		out, _ := cli(c.cert, c.key, "GET", "greeting")
		if strings.Contains(out, "hello over TLS") {
			t.Errorf("%s: redis answered %q", c.name, out)
		}
		serverLog.waitFor(t, c.reason)
	}
	// One more connection is the INFO command itself.
	if after := connectionsReceived(t, redisAddr); after != before+1 {
		t.Errorf("redis accepted %d connections from refused clients", after-before-1)
	}

	// Plain redis-cli, as a legacy client would run, through a client
	// tunnel that presents the billing certificate.
	clientCert, err := NewClientCertFiles(billing.Chain, billing.Key, time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	local, _, _ := startClient(t, tunnelAddr, ClientConfig{ServerName: "localhost", RootCAs: m.server.Roots, ClientCertificate: clientCert.Certificate})
	if out, err := redisCLI(t, append(hostPort(local), "GET", "greeting")...); err != nil || out != "hello over TLS" {
		t.Fatalf("plain redis-cli through client and server tunnels: %q, %v", out, err)
	}
	if out, err := redisCLI(t, append(hostPort(local), "--raw", "INCRBY", "counter", fmt.Sprint(41))...); err != nil || out != "41" {
		t.Fatalf("INCRBY: %q, %v", out, err)
	}
}
