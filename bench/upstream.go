package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// smallBody is the fixed small API response every terminator relays.
var smallBody = []byte(`{"status":"ok","service":"tlsgate-bench"}` + "\n")

// bulkSize is the size of the large response, 1 MiB.
const bulkSize = 1 << 20

// runUpstream is the plain HTTP/1.1 origin behind every terminator: "/"
// answers smallBody, "/1m" answers 1 MiB. It is deliberately tiny so that it
// costs the same for every server under test.
func runUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bulk := make([]byte, bulkSize)
	for i := range bulk {
		bulk[i] = byte('a' + i%26)
	}
	smallLen := strconv.Itoa(len(smallBody))
	bulkLen := strconv.Itoa(len(bulk))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{smallLen}
		w.Write(smallBody)
	})
	mux.HandleFunc("/1m", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{bulkLen}
		w.Write(bulk)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute,
		ErrorLog: log.New(os.Stderr, "upstream: ", 0)}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	go stopOnSignal(func() { ln.Close() })
	err = srv.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// runGoProxy is the reference a Go proxy is measured against: a TLS server
// that hands every request to net/http/httputil.ReverseProxy, as assembled
// from the standard library with only the idle pool widened.
func runGoProxy(args []string) error {
	fs := flag.NewFlagSet("goproxy", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address")
	to := fs.String("to", "", "upstream URL")
	cert := fs.String("cert", "", "certificate chain PEM")
	key := fs.String("key", "", "private key PEM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*to)
	if err != nil {
		return err
	}
	kp, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		return err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	srv := &http.Server{
		Handler:           rp,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 2 * time.Minute,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(os.Stderr, "goproxy: ", 0),
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	go stopOnSignal(func() { ln.Close() })
	err = srv.ServeTLS(ln, "", "")
	if err == http.ErrServerClosed || isClosed(err) {
		return nil
	}
	return err
}

func stopOnSignal(f func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
	f()
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
