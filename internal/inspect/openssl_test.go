package inspect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/testtool"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
	"github.com/tlsgate/tlsgate/internal/wire"
)

// opensslMessages reads the handshake messages openssl s_server -msg
// printed: direction ("<<<" received, ">>>" sent), name and bytes.
type opensslMessage struct {
	dir, name string
	raw       []byte
}

func parseOpenSSLMsg(out string) (msgs []opensslMessage, cipher string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	var cur *opensslMessage
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "    ") && cur != nil {
			b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(l), " ", ""))
			if err == nil {
				cur.raw = append(cur.raw, b...)
			}
			continue
		}
		cur = nil
		if strings.HasPrefix(l, "CIPHER is ") {
			cipher = strings.TrimPrefix(l, "CIPHER is ")
		}
		if (strings.HasPrefix(l, "<<< ") || strings.HasPrefix(l, ">>> ")) && strings.Contains(l, ", Handshake [") {
			msgs = append(msgs, opensslMessage{dir: l[:3], name: l[strings.LastIndex(l, ", ")+2:]})
			cur = &msgs[len(msgs)-1]
		}
	}
	return msgs, cipher
}

func (m opensslMessage) is(dir, name string) bool { return m.dir == dir && m.name == name }

// startOpenSSLServer runs openssl s_server for one connection and returns
// its address and a function that waits for it and returns its output.
func startOpenSSLServer(t *testing.T, args ...string) (addr string, wait func() string) {
	t.Helper()
	bin := testtool.Need(t, "openssl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, bin, append([]string{"s_server", "-accept", addr, "-naccept", "1"}, args...)...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, _ := cmd.StdinPipe() // s_server quits on EOF from stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); <-done; cancel() })
	// s_server prints ACCEPT once it listens; wait for it, bounded.
	for i := 0; i < 100 && !strings.Contains(out.String(), "ACCEPT"); i++ {
		select {
		case <-done:
			t.Fatalf("openssl s_server exited: %s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return addr, func() string {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("openssl s_server did not finish")
		}
		return out.String()
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// TestBadFixturesOpenSSL serves every bad fixture with openssl s_server
// (stapling the fixture's OCSP response) and checks the reason inspect gives.
func TestBadFixturesOpenSSL(t *testing.T) {
	testtool.Need(t, "openssl")
	want := map[string]string{
		"expired": "expired", "not-yet-valid": "not_yet_valid", "wrong-host": "hostname_mismatch", "self-signed": "self_signed",
		"untrusted-root": "unknown_authority", "missing-intermediate": "incomplete_chain", "cn-only": "cn_only",
		"sha1-signed": "weak_signature", "rsa-1024": "weak_key", "wrong-eku": "wrong_usage", "revoked": "revoked",
	}
	for _, f := range testpki.BadFixtures(t) {
		t.Run(f.Name, func(t *testing.T) {
			dir := t.TempDir()
			files := f.WriteFiles(t, dir)
			args := []string{"-cert", files.Cert, "-key", files.Key, "-cipher", "DEFAULT:@SECLEVEL=0"}
			if len(f.Chain) > 1 {
				chainFile := filepath.Join(dir, "intermediates.pem")
				os.WriteFile(chainFile, testpki.CertsPEM(f.Chain[1:]...), 0o644)
				args = append(args, "-cert_chain", chainFile)
			}
			if f.OCSP != nil {
				ocspFile := filepath.Join(dir, "ocsp.der")
				os.WriteFile(ocspFile, f.OCSP, 0o644)
				args = append(args, "-status_file", ocspFile)
			}
			addr, wait := startOpenSSLServer(t, args...)
			o := Options{Target: addr, CAFile: files.Root, ServerName: f.ServerName}
			tr, err := run(t, o)
			if err != nil {
				t.Fatalf("%v\n%s", err, wait())
			}
			if f.OCSP != nil && (tr.Certificates.OCSP == nil || !tr.Certificates.OCSP.Stapled) {
				t.Errorf("openssl stapled an OCSP response, inspect saw none")
			}
			if v := tr.Verification; v.Verified || v.Code != want[f.Name] {
				t.Errorf("verified=%v code=%q (%s), want %q", v.Verified, v.Code, v.Reason, want[f.Name])
			}
		})
	}
}

// TestAgainstOpenSSLServer checks what inspect decoded from the wire against
// what openssl s_server says it received and sent, for TLS 1.2 with static
// RSA key exchange, TLS 1.2 with ECDHE and TLS 1.3.
func TestAgainstOpenSSLServer(t *testing.T) {
	testtool.Need(t, "openssl")
	cases := []struct {
		name   string
		key    testpki.KeyType
		args   []string
		method string
		fs     bool
	}{
		{"tls12-rsa", testpki.RSA2048, []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, "RSA", false},
		{"tls12-ecdhe", testpki.RSA2048, []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"}, "ECDHE", true},
		{"tls13", testpki.ECDSAP256, []string{"-tls1_3", "-groups", "P-384"}, "ECDHE", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := testpki.Good(t, c.key)
			files := f.WriteFiles(t, t.TempDir())
			inter := filepath.Join(t.TempDir(), "intermediates.pem")
			os.WriteFile(inter, testpki.CertsPEM(f.Chain[1:]...), 0o644)
			addr, wait := startOpenSSLServer(t, append([]string{"-cert", files.Cert, "-cert_chain", inter, "-key", files.Key, "-msg"}, c.args...)...)
			tr, err := run(t, Options{Target: addr, ServerName: "localhost", CAFile: files.Root})
			if err != nil {
				t.Fatalf("inspect: %v\nopenssl: %s", err, wait())
			}
			out := wait()
			msgs, cipher := parseOpenSSLMsg(out)
			var ch, sh *opensslMessage
			var ske, cke []byte
			for i := range msgs {
				switch {
				case msgs[i].is("<<<", "ClientHello"):
					ch = &msgs[i]
				case msgs[i].is(">>>", "ServerHello"):
					sh = &msgs[i]
				case msgs[i].is(">>>", "ServerKeyExchange"):
					ske = msgs[i].raw
				case msgs[i].is("<<<", "ClientKeyExchange"):
					cke = msgs[i].raw
				}
			}
			if ch == nil || sh == nil {
				t.Fatalf("openssl -msg output lacks the hellos:\n%s", out)
			}
			gotCH, err := wire.ParseClientHello(ch.raw)
			if err != nil {
				t.Fatal(err)
			}
			gotSH, err := wire.ParseServerHello(sh.raw)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(gotCH.Random[:]) != tr.ClientHello.Random {
				t.Errorf("client random %s, openssl received %x", tr.ClientHello.Random, gotCH.Random)
			}
			if hex.EncodeToString(gotSH.Random[:]) != tr.ServerHello.Random {
				t.Errorf("server random %s, openssl sent %x", tr.ServerHello.Random, gotSH.Random)
			}
			suite, ok := tlspolicy.CipherSuiteByName(cipher)
			if !ok || suite.ID != tr.ServerHello.CipherSuite.ID || gotSH.CipherSuite != suite.ID {
				t.Errorf("suite %v, openssl says %q", tr.ServerHello.CipherSuite, cipher)
			}
			k := tr.KeyExchange
			if k.Method != c.method || k.ForwardSecrecy != c.fs {
				t.Errorf("key exchange %s, forward secrecy %v; want %s, %v", k.Method, k.ForwardSecrecy, c.method, c.fs)
			}
			var group uint16
			switch c.method {
			case "RSA":
				if ske != nil || cke == nil {
					t.Fatalf("openssl saw ServerKeyExchange=%v ClientKeyExchange=%v for static RSA", ske != nil, cke != nil)
				}
				m, err := wire.ParseClientKeyExchange(cke, wire.KeyExchangeRSA, wire.VersionTLS12)
				if err != nil || len(m.Data) != k.ClientShareLen {
					t.Errorf("encrypted premaster %d bytes per openssl (%v), inspect says %d", len(m.Data), err, k.ClientShareLen)
				}
			case "ECDHE":
				if ske != nil {
					m, err := wire.ParseServerKeyExchange(ske, wire.KeyExchangeECDHE, wire.VersionTLS12)
					if err != nil {
						t.Fatal(err)
					}
					group = m.Group
				} else {
					e, _ := gotSH.Extension(wire.ExtKeyShare)
					ks, err := wire.ParseServerKeyShare(e.Data)
					if err != nil {
						t.Fatal(err)
					}
					group = ks.Group
				}
				if k.Group == nil || k.Group.ID != group || tr.ServerHello.Group == nil || tr.ServerHello.Group.ID != group {
					t.Errorf("group %+v, openssl sent %s", k.Group, groupOf(group).Name)
				}
			}
			if c.name == "tls13" && (group != 24 || tr.HelloRetryRequest == nil) {
				// P-384 only: Go offers no P-384 share first, so openssl asks again.
				t.Errorf("TLS 1.3 with P-384: group %d, HelloRetryRequest %+v", group, tr.HelloRetryRequest)
			}
		})
	}
}
