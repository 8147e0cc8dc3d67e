package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/pki"
)

// TestCAServe runs `tlsgate ca serve` on a loopback port and fetches what
// it publishes, including a revocation made by a separate `ca revoke`.
func TestCAServe(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	out := t.TempDir()
	mustRun := func(args ...string) string {
		t.Helper()
		var so, se strings.Builder
		if code := Main(context.Background(), append([]string{"--home", home}, args...), &so, &se); code != 0 {
			t.Fatalf("tlsgate %s: exit %d\n%s", strings.Join(args, " "), code, se.String())
		}
		return so.String()
	}
	mustRun("ca", "init")
	issued := mustRun("ca", "issue", "--profile", "server", "--dns", "a.example.test", "--out", out)
	serial := regexp.MustCompile(`serial ([0-9a-f]+)`).FindStringSubmatch(issued)[1]

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"--home", home, "ca", "serve", "--listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("ca serve exited %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("ca serve did not stop within 10s of cancellation")
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	base := regexp.MustCompile(`http://\S+`).FindString(line)
	if base == "" {
		t.Fatalf("no URL in %q", line)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) []byte {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return b
	}
	rootPEM := get("/ca/root.pem")
	root, err := pki.ParseCertificatePEM(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got := get("/root/" + pki.Fingerprint(root)); string(got) != string(rootPEM) {
		t.Error("/root/{fingerprint} does not serve the root")
	}
	if resp, err := client.Get(base + "/root/" + strings.Repeat("0", 64)); err != nil || resp.StatusCode != 404 {
		t.Errorf("wrong fingerprint answered %v %v", resp.Status, err)
	}

	mustRun("ca", "revoke", serial, "--reason", "superseded")
	certPEM, _ := os.ReadFile(filepath.Join(out, "cert.pem"))
	leaf, _ := pki.ParseCertificatePEM(certPEM)
	chain := get("/ca/chain.pem")
	inter, _ := pki.ParseCertificatePEM(chain)
	req, _ := pki.OCSPRequest(leaf, inter)
	resp, err := client.Post(base+"/ocsp", "application/ocsp-request", strings.NewReader(string(req)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r, err := ocsp.ParseResponseForCert(body, leaf, inter)
	if err != nil || r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
		t.Fatalf("OCSP after ca revoke: %+v %v", r, err)
	}
}
