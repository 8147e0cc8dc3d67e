package scan

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

func scanPlain(t *testing.T, addr string, timeout time.Duration) *Result {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return NewScanner(Options{Timeout: timeout}).Scan(ctx, Target{Input: addr, Host: host, Port: port})
}

func TestScanPlainHTTPPort(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	r := scanPlain(t, srv.Listener.Addr().String(), 2*time.Second)
	if !strings.Contains(r.Error, "no SSL/TLS version was accepted; is this a TLS port?") {
		t.Fatalf("error %q, want it to say no TLS was accepted", r.Error)
	}
	if r.Rating != nil {
		t.Fatalf("a plain HTTP port was rated %s", r.Rating.Grade)
	}
}

func TestScanSilentServer(t *testing.T) {
	// Accepts connections and never answers: every probe must give up at
	// its timeout and the scan must end with an error, not hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	r := scanPlain(t, l.Addr().String(), 300*time.Millisecond)
	if r.Error == "" || r.Rating != nil {
		t.Fatalf("silent server: error %q, rating %+v", r.Error, r.Rating)
	}
}

func TestScanRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := scanPlain(t, addr, time.Second)
	if !strings.Contains(r.Error, "connect to "+addr) || !strings.Contains(r.Error, "check the host and port") {
		t.Fatalf("error %q should name the address and say what to check", r.Error)
	}
}

func TestScanIPv6Loopback(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	ca := newTestCA(t)
	is := ca.inter.Issue(t, testpki.Leaf{DNS: []string{"localhost"}, KeyType: testpki.ECDSAP256})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{is.TLSCertificate()}}, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	tg, err := ParseTarget(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := NewScanner(Options{Roots: ca.pool(), ServerName: "localhost", Timeout: 5 * time.Second}).Scan(ctx, tg)
	if r.Error != "" || r.Rating == nil {
		t.Fatalf("scan of %s: %q", tg.Address(), r.Error)
	}
	if r.Rating.Grade != "A+" || !strings.HasPrefix(r.Address, "[::1]:") {
		t.Errorf("grade %s at %s; want A+ for crypto/tls defaults with HSTS, over [::1]", r.Rating.Grade, r.Address)
	}
}

func TestFailedResultIsValidJSON(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	r := scanPlain(t, addr, time.Second)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"protocols":[]`, `"vulnerabilities":[]`, `"schema_version":1`, `"error":"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON of a failed scan lacks %s: %s", want, b)
		}
	}
}
