package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// handshakeResult is what the handshake client prints as JSON.
type handshakeResult struct {
	OK       int64   `json:"ok"`
	Resumed  int64   `json:"resumed"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	FirstErr string  `json:"first_error,omitempty"`
}

func groupFor(name string) (tls.CurveID, error) {
	switch name {
	case "x25519":
		return tls.X25519, nil
	case "mlkem":
		return tls.X25519MLKEM768, nil
	}
	return 0, fmt.Errorf("unknown group %q (want x25519 or mlkem)", name)
}

// runHandshakeClient opens one TLS 1.3 connection per request: dial, full (or
// resumed) handshake offering exactly one key-exchange group, one HTTP/1.1
// request with Connection: close, read to EOF so the server closes first and
// keeps the TIME_WAIT, then the next one. The signature in CertificateVerify
// is still checked by crypto/tls; only chain building is skipped, as the
// server's cost is what is measured.
func runHandshakeClient(args []string) error {
	fs := flag.NewFlagSet("handshake", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address")
	dur := fs.Duration("d", 3*time.Second, "duration")
	conc := fs.Int("c", 8, "concurrent connections")
	group := fs.String("group", "x25519", "key-exchange group: x25519 or mlkem")
	resume := fs.Bool("resume", false, "resume with session tickets")
	maxOps := fs.Int64("max", 5_000_000, "stop after this many handshakes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	curve, err := groupFor(*group)
	if err != nil {
		return err
	}
	cfg := &tls.Config{
		ServerName:         "localhost",
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{curve},
		NextProtos:         []string{"http/1.1"},
	}
	if *resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
		// Prime the cache so that every measured handshake can resume.
		if _, err := oneRequest(*addr, cfg); err != nil {
			return fmt.Errorf("first handshake to %s: %w", *addr, err)
		}
	}
	var res handshakeResult
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(*dur)
	var wg sync.WaitGroup
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && atomic.LoadInt64(&res.OK)+atomic.LoadInt64(&res.Errors) < *maxOps {
				resumed, err := oneRequest(*addr, cfg)
				if err != nil {
					atomic.AddInt64(&res.Errors, 1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				atomic.AddInt64(&res.OK, 1)
				if resumed {
					atomic.AddInt64(&res.Resumed, 1)
				}
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	if v := firstErr.Load(); v != nil {
		res.FirstErr = v.(string)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

var closeRequest = []byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")

func oneRequest(addr string, cfg *tls.Config) (resumed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		return false, err
	}
	if _, err := c.Write(closeRequest); err != nil {
		return false, err
	}
	br := bufio.NewReaderSize(c, 4096)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return false, fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || string(line[9:12]) != "200" {
		return false, fmt.Errorf("status %q", line)
	}
	if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}

// runIdleClient opens n TLS connections, completes each handshake and then
// holds them without sending a request. It prints "ready OK FAILED" once all
// are open and closes them when its standard input closes (or after -hold).
func runIdleClient(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address")
	n := fs.Int("n", 10000, "connections to hold")
	conc := fs.Int("c", 32, "connections opened concurrently")
	hold := fs.Duration("hold", 5*time.Minute, "give up holding after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raiseNoFile(uint64(*n) + 1024)
	cfg := &tls.Config{
		ServerName:         "localhost",
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		NextProtos:         []string{"http/1.1"},
	}
	conns := make([]net.Conn, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var d net.Dialer
				raw, err := d.DialContext(ctx, "tcp", *addr)
				if err == nil {
					c := tls.Client(raw, cfg)
					if err = c.HandshakeContext(ctx); err == nil {
						conns[i] = c
					} else {
						raw.Close()
					}
				}
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("ready %d %d\n", int64(*n)-failed.Load(), failed.Load())
	if v := firstErr.Load(); v != nil {
		fmt.Fprintf(os.Stderr, "first error: %s\n", v)
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(*hold):
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return nil
}

// raiseNoFile lifts the open-file limit to at least want where allowed.
func raiseNoFile(want uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	if lim.Max < want {
		lim.Max = want // only root may raise the hard limit
	}
	if lim.Cur < want {
		lim.Cur = lim.Max
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// hardNoFile is the hard open-file limit of this process.
func hardNoFile() int {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Max > 1<<30 {
		return 1 << 20
	}
	return int(lim.Max)
}
