//go:build unix

package tunnel

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// cpuTime is the user and system CPU time this process has used: both
// ends of every connection run in it, so CPU per byte compares the two
// paths independently of what else the machine is doing.
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
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N*benchChunk>>20), "cpu-ms/MiB")
}

// benchChunk is what one benchmark iteration moves; b.N iterations of it
// make the total, e.g. -benchtime=16x for 1 GiB.
const benchChunk = 64 << 20

// sink reads a connection to its end, then answers one byte so the sender
// knows everything arrived.
func sink(c net.Conn) {
	defer c.Close()
	if _, err := io.Copy(io.Discard, c); err != nil {
		return
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

// BenchmarkBulkTransfer compares a bulk upload over one direct TLS
// connection with the same upload through a client tunnel and a server
// tunnel (plaintext -> TLS -> plaintext), with the same certificate and TLS
// profile on both paths. Compare the MB/s of the two sub-benchmarks.
func BenchmarkBulkTransfer(b *testing.B) {
	f := testpki.Good(b, testpki.ECDSAP256)
	cert := f.TLSCertificate()
	quiet := Options{Logger: slog.New(slog.DiscardHandler)}
	buf := make([]byte, 256<<10)

	b.Run("Direct", func(b *testing.B) {
		ln := listenLoopback(b)
		serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
		serveSink(b, ln, func(c net.Conn) net.Conn { return tls.Server(c, serverTLS) })
		clientTLS := &tls.Config{RootCAs: f.Roots, ServerName: f.ServerName}
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
		srv, err := NewServer(ServerConfig{Options: sopts, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
		if err != nil {
			b.Fatal(err)
		}
		sln := listenLoopback(b)
		go srv.Serve(ctx, sln)

		copts := quiet
		copts.Target = sln.Addr().String()
		cli, err := NewClient(ClientConfig{Options: copts, RootCAs: f.Roots, ServerName: f.ServerName})
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
	})
}
