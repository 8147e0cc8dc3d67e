package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

// An upgraded connection (a WebSocket, hijacked from net/http) stays within
// the deny-list's reach and counted open until the exchange ends.
func TestUpgradedConnectionStaysTracked(t *testing.T) {
	up := newEchoUpgradeUpstream(t)
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	site, roots := siteFor(t, &Route{PathPrefix: "/", Upstreams: []Upstream{{URL: up.URL}}, ClientAuth: ClientAuthRequire, Policy: policy(t, "uri:spiffe://corp.test/billing")})
	site.ClientCAs = ca.Pool()
	tg := startGateway(t, &Config{Sites: []*Site{site}, DefaultSite: "main"}, roots)
	cert := ca.Issue(t, testpki.Leaf{URIs: []string{"spiffe://corp.test/billing"}, EKU: clientEKU}).TLSCertificate()

	upgrade := func() (net.Conn, *bufio.Reader) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", tg.https,
			&tls.Config{ServerName: "localhost", RootCAs: roots, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		br := bufio.NewReader(conn)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		io.WriteString(conn, "ping\n")
		if got, err := br.ReadString('\n'); err != nil || got != "echo ping\n" {
			t.Fatalf("echo: %q %v", got, err)
		}
		return conn, br
	}
	const open = "tlsgate_open_connections"

	// The client ends the exchange: the connection is counted closed.
	conn, _ := upgrade()
	if got := metricValue(t, tg, open); got != 1 {
		t.Errorf("%s = %v during a WebSocket, want 1", open, got)
	}
	conn.Close()
	waitFor(t, "the ended WebSocket counted closed", func() bool { return metricValue(t, tg, open) == 0 })
	if got := metricValue(t, tg, `tlsgate_http_requests_total{code="101",route="/",site="main"}`); got != 1 {
		t.Errorf("requests answered 101 = %v, want 1: an upgrade is logged and counted as 101", got)
	}

	// The client is deny-listed: its WebSocket is closed.
	conn, br := upgrade()
	entry, err := authz.ParseDenyEntry("serial:" + cert.Leaf.SerialNumber.Text(16))
	if err != nil {
		t.Fatal(err)
	}
	tg.g.DenyList().Add(entry)
	// The deny-list is applied by a watcher: wait for the gateway to close
	// the WebSocket rather than race it with another message.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := br.ReadString('\n'); err == nil {
		t.Errorf("the denied client's WebSocket still carries data: %q", got)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the denied client's WebSocket is still open 5 s after the deny-list entry: %v", err)
	}
	if _, err := io.WriteString(conn, "still here\n"); err == nil {
		if got, err := br.ReadString('\n'); err == nil {
			t.Errorf("the denied client's WebSocket still works: %q", got)
		}
	}
	waitFor(t, "the denied WebSocket counted closed", func() bool { return metricValue(t, tg, open) == 0 })
}
