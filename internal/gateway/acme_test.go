package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/testtool"
)

// freePort reserves a loopback port number; pebble must know the
// gateway's ports before the gateway starts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPebble runs Debian's pebble ACME test CA validating challenges on
// the given ports, and returns its directory URL, the root its own HTTPS
// chains to, and a client for its management API.
func startPebble(t *testing.T, httpPort, tlsPort int) (directory string, mgmt string, roots *x509.CertPool) {
	t.Helper()
	pebble := testtool.Need(t, "pebble")
	dir := t.TempDir()
	fx := testpki.Good(t, testpki.ECDSAP256)
	files := fx.WriteFiles(t, dir)
	api, mg := freePort(t), freePort(t)
	conf := fmt.Sprintf(`{"pebble": {"listenAddress": "127.0.0.1:%d", "managementListenAddress": "127.0.0.1:%d",
  "certificate": %q, "privateKey": %q, "httpPort": %d, "tlsPort": %d, "ocspResponderURL": "", "externalAccountBindingRequired": false}}`,
		api, mg, files.Chain, files.Key, httpPort, tlsPort)
	confPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, pebble, "-config", confPath)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", log.String())
		}
	})
	waitFor(t, "pebble to listen", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(api), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return fmt.Sprintf("https://127.0.0.1:%d/dir", api), fmt.Sprintf("https://127.0.0.1:%d", mg), fx.Roots
}

func pebbleRoots(t *testing.T, mgmt string, trust *x509.CertPool) *x509.CertPool {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust}}}
	resp, err := c.Get(mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pem, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("pebble's root is not PEM: %q", pem)
	}
	return pool
}

func TestACMEWithPebble(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			httpPort, tlsPort := freePort(t), freePort(t)
			directory, mgmt, trust := startPebble(t, httpPort, tlsPort)
			src, err := certsource.NewACME([]string{"localhost"}, certsource.ACMEOptions{
				Directory: directory, Roots: trust, StorageDir: t.TempDir(),
				DisableHTTP01: challenge != "http-01", DisableTLSALPN01: challenge != "tls-alpn-01",
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(src.Stop)
			site := &Site{Name: "acme", Hosts: []string{"localhost"}, Certs: src, Routes: []*Route{whoamiRoute()}}
			cfg := &Config{Listen: fmt.Sprintf("127.0.0.1:%d", tlsPort), HTTPListen: fmt.Sprintf("127.0.0.1:%d", httpPort),
				Sites: []*Site{site}, ACMEChallenge: src.HTTPChallengeHandler(http.NotFoundHandler())}
			tg := startGateway(t, cfg, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := src.Obtain(ctx); err != nil {
				t.Fatal(err)
			}
			tg.roots = pebbleRoots(t, mgmt, trust)
			tg.client = tg.newClient(true)
			resp, body := tg.get(t, "https://localhost/")
			if resp.StatusCode != 200 {
				t.Fatalf("with the ACME certificate: %d %s", resp.StatusCode, body)
			}
			if got := resp.TLS.PeerCertificates[0].Issuer.CommonName; got == "" {
				t.Error("no issuer")
			}
		})
	}
}
