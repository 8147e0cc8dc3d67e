//go:build unix

package tunnel

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// cpuTime is the user and system CPU time this process has used: both
// ends of every connection run in it, so CPU per byte compares the paths
// independently of what else the machine is doing.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the timed loop and reports CPU milliseconds per MiB moved.
func measure(b *testing.B, transfer func()) {
	b.SetBytes(benchChunk)
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		transfer()
	}
	cpu := cpuTime() - start
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N*benchChunk>>20), "cpu-ms/MiB")
}

// benchChunk is what one benchmark iteration moves; b.N iterations of it
// make the total, e.g. -benchtime=16x for 1 GiB.
const benchChunk = 64 << 20

// appBuffer is the size of the source's writes and of the sink's reads, the
// same on every path, so that only what lies between them differs.
const appBuffer = 256 << 10

// sink reads a connection to its end, then answers one byte so the sender
// knows everything arrived.
func sink(c net.Conn) {
	defer c.Close()
	buf := make([]byte, appBuffer)
	for {
		_, err := c.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return
		}
	}
	c.Write([]byte{1})
}

func serveSink(b *testing.B, ln net.Listener, wrap func(net.Conn) net.Conn) {
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go sink(wrap(c))
		}
	}()
}

// send writes benchChunk bytes on c, half-closes it and waits for the ack.
func send(b *testing.B, c net.Conn, buf []byte) {
	for sent := 0; sent < benchChunk; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := closeWrite(c); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	c.Close()
}

// serveRelay forwards every connection accepted on ln to target with the
// tunnel's own relay and plain TCP on both sides: a tunnel without TLS.
func serveRelay(b *testing.B, ln net.Listener, target string) {
	b.Cleanup(func() { ln.Close() })
	m := NewMetrics(nil)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				t, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				relay(end{Conn: c}, end{Conn: t}, &byteCount{counter: m.up}, &byteCount{counter: m.down}, DefaultIdleTimeout)
			}()
		}
	}()
}

// suiteSeen records the cipher suites negotiated on a path, so that the
// benchmark can check both TLS paths used the same one.
type suiteSeen struct {
	mu     sync.Mutex
	suites map[uint16]bool
}

func (s *suiteSeen) record(cs tls.ConnectionState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.suites == nil {
		s.suites = map[uint16]bool{}
	}
	s.suites[cs.CipherSuite] = true
	return nil
}

func (s *suiteSeen) only(b *testing.B) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.suites) != 1 {
		b.Fatalf("want one cipher suite on the path, saw %v", s.suites)
	}
	for cs := range s.suites {
		return cs
	}
	return 0
}

// BenchmarkBulkTransfer compares a bulk upload over one direct TLS
// connection with the same upload through a client tunnel and a server
// tunnel (plaintext -> TLS -> plaintext). Both TLS paths use the tunnel's
// default profile, the same certificate and the same cipher suite; the
// source writes and the sink reads 256 KiB at a time on every path.
//
// Two plaintext cases measure what the tunnel pair cannot avoid: the pair
// adds two loopback hops (source -> client tunnel, server tunnel -> sink)
// that the direct connection does not have. Plain is one plaintext hop,
// PlainRelays is three through two relays that run the tunnel's relay code
// without TLS; their difference is the cost of the two extra hops.
//
// Compare MB/s and cpu-ms/MiB side by side; -benchtime=16x moves 1 GiB.
func BenchmarkBulkTransfer(b *testing.B) {
	f := testpki.Good(b, testpki.ECDSAP256)
	cert := f.TLSCertificate()
	quiet := Options{Logger: slog.New(slog.DiscardHandler)}
	buf := make([]byte, appBuffer)
	profile := tlspolicy.DefaultProfile()
	var directSuite, tunnelSuite suiteSeen

	b.Run("Direct", func(b *testing.B) {
		ln := listenLoopback(b)
		serverTLS := profile.TLSConfig()
		serverTLS.Certificates = []tls.Certificate{cert}
		serverTLS.VerifyConnection = directSuite.record
		serveSink(b, ln, func(c net.Conn) net.Conn { return tls.Server(c, serverTLS) })
		clientTLS := profile.TLSConfig()
		clientTLS.RootCAs, clientTLS.ServerName = f.Roots, f.ServerName
		measure(b, func() {
			c, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
			if err != nil {
				b.Fatal(err)
			}
			send(b, c, buf)
		})
	})

	b.Run("Tunnels", func(b *testing.B) {
		ln := listenLoopback(b)
		serveSink(b, ln, func(c net.Conn) net.Conn { return c })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		sopts := quiet
		sopts.Target = ln.Addr().String()
		serverTLS := profile.TLSConfig()
		serverTLS.VerifyConnection = tunnelSuite.record
		srv, err := NewServer(ServerConfig{Options: sopts, BaseTLS: serverTLS,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
		if err != nil {
			b.Fatal(err)
		}
		sln := listenLoopback(b)
		go srv.Serve(ctx, sln)

		copts := quiet
		copts.Target = sln.Addr().String()
		cli, err := NewClient(ClientConfig{Options: copts, BaseTLS: profile.TLSConfig(), RootCAs: f.Roots, ServerName: f.ServerName})
		if err != nil {
			b.Fatal(err)
		}
		cln := listenLoopback(b)
		go cli.Serve(ctx, cln)

		measure(b, func() {
			c, err := net.Dial("tcp", cln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			send(b, c, buf)
		})
		t := tunnelSuite.only(b)
		b.Logf("cipher suite %s", tls.CipherSuiteName(t))
		if len(directSuite.suites) > 0 {
			if d := directSuite.only(b); d != t {
				b.Fatalf("direct TLS used %s, the tunnels %s: the comparison needs one suite", tls.CipherSuiteName(d), tls.CipherSuiteName(t))
			}
		}
	})

	plain := func(relays int) func(b *testing.B) {
		return func(b *testing.B) {
			ln := listenLoopback(b)
			serveSink(b, ln, func(c net.Conn) net.Conn { return c })
			addr := ln.Addr().String()
			for range relays {
				rln := listenLoopback(b)
				serveRelay(b, rln, addr)
				addr = rln.Addr().String()
			}
			measure(b, func() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				send(b, c, buf)
			})
		}
	}
	b.Run("Plain", plain(0))
	b.Run("PlainRelays", plain(2))
}
