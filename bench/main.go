// Command bench measures tlsgate side by side with nginx, HAProxy and Caddy
// on this machine, in one run, and reports ratios to nginx.
//
// Every server terminates TLS in front of the same tiny upstream on loopback,
// with the same certificates, pinned to its own CPU while the load generators
// and the upstream run on the other. Besides throughput, the harness reads
// each server's own CPU time from /proc, because on a small machine the load
// generator is often the bottleneck and CPU per operation is then the fair
// figure.
//
//	go run ./bench            # full run, several minutes, writes docs/bench.png
//	go run ./bench --smoke    # about 30 seconds, proves the harness works
//	go run ./bench --only nginx,tlsgate,h1,hs-ecdsa --out /tmp/bench
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		sub := map[string]func([]string) error{
			"_upstream":  runUpstream,
			"_goproxy":   runGoProxy,
			"_handshake": runHandshakeClient,
			"_idle":      runIdleClient,
		}
		if f, ok := sub[os.Args[1]]; ok {
			if err := f(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
				os.Exit(1)
			}
			return
		}
	}
	if err := benchMain(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command-line settings of one run.
type options struct {
	smoke      bool
	only       map[string]bool // servers, tests and extras to keep; empty keeps all
	out        string
	reps       int
	dur        time.Duration // per wrk/h2load repetition
	hsDur      time.Duration // per handshake repetition
	idleConns  int
	serverCPU  string
	clientCPU  string
	install    bool
	keep       bool
	tlsgateRev string
	perf       bool
	chart      string // PNG path in docs/, "" for none
	repo       string
}

func (o *options) want(name string, group []string) bool {
	if len(o.only) == 0 {
		return true
	}
	named := false
	for _, g := range group {
		if o.only[g] {
			named = true
		}
	}
	return !named || o.only[name]
}

var (
	allServers = []string{"nginx", "haproxy", "caddy", "go-httputil", "tlsgate"}
	allTests   = []string{"idle", "h1", "h2", "hs-ecdsa", "hs-rsa", "hs-mlkem", "resume", "bulk"}
	allExtras  = []string{"ca", "tunnel", "scan"}
)

func parseOptions() (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.smoke, "smoke", false, "run every test once, briefly, with few idle connections (about 30 s); writes only to --out")
	only := fs.String("only", "", "comma-separated servers ("+strings.Join(allServers, ",")+"), tests ("+
		strings.Join(allTests, ",")+") and extras ("+strings.Join(allExtras, ",")+") to run; a group not named runs whole")
	fs.StringVar(&o.out, "out", "", "directory for results.json, results.txt and bench.png (default bench/out)")
	fs.IntVar(&o.reps, "reps", 5, "repetitions of every measurement (1 with --smoke)")
	fs.DurationVar(&o.dur, "duration", 5*time.Second, "length of one repetition (1s with --smoke)")
	fs.IntVar(&o.idleConns, "idle-conns", 10000, "idle TLS connections held for the memory test (200 with --smoke)")
	fs.StringVar(&o.serverCPU, "server-cpus", "", "CPU list (taskset) for the server under test (default 0)")
	fs.StringVar(&o.clientCPU, "client-cpus", "", "CPU list for load generators and upstream (default: the other CPUs)")
	fs.BoolVar(&o.perf, "perf", false, "after each test, profile every server once more with perf record and write OUT/perf/SERVER-TEST.txt")
	fs.StringVar(&o.tlsgateRev, "tlsgate-rev", "", "build tlsgate from this git revision (e.g. HEAD) instead of the working tree")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory with every configuration and server log")
	fs.BoolVar(&o.install, "install", true, "install missing Debian packages with apt-get when root")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; see --help", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.smoke {
		if !set["reps"] {
			o.reps = 1
		}
		if !set["duration"] {
			o.dur = time.Second
		}
		if !set["idle-conns"] {
			o.idleConns = 200
		}
	}
	o.hsDur = o.dur
	if o.smoke && !set["duration"] {
		o.hsDur = 500 * time.Millisecond
	}
	if o.reps < 1 || o.dur <= 0 || o.idleConns < 1 {
		return nil, errors.New("--reps, --duration and --idle-conns must be positive")
	}
	known := map[string]bool{}
	for _, l := range [][]string{allServers, allTests, allExtras} {
		for _, n := range l {
			known[n] = true
		}
	}
	if *only != "" {
		o.only = map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			n = strings.TrimSpace(n)
			if !known[n] {
				return nil, fmt.Errorf("--only: unknown name %q; known: %s, %s, %s", n,
					strings.Join(allServers, ","), strings.Join(allTests, ","), strings.Join(allExtras, ","))
			}
			o.only[n] = true
		}
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return nil, errors.New("run the harness from inside the tlsgate module: go run ./bench")
	}
	o.repo = filepath.Dir(strings.TrimSpace(string(gomod)))
	if o.out == "" {
		o.out = filepath.Join(o.repo, "bench", "out")
	}
	if !o.smoke && len(o.only) == 0 && o.reps >= 3 {
		o.chart = filepath.Join(o.repo, "docs", "bench.png")
	}
	n := runtime.NumCPU()
	if o.serverCPU == "" && o.clientCPU == "" && n >= 2 {
		o.serverCPU = "0"
		o.clientCPU = fmt.Sprintf("1-%d", n-1)
		if n == 2 {
			o.clientCPU = "1"
		}
	}
	return o, nil
}

func benchMain() error {
	o, err := parseOptions()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	started := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}
	if o.serverCPU == "" {
		logf("only one CPU: server and load generator share it, so CPU per operation is the only meaningful figure")
	}
	// Children inherit the limit: the idle test needs one descriptor per
	// connection in the client and up to two in each server.
	raiseNoFile(uint64(4*o.idleConns) + 16384)
	fdLimit := hardNoFile()
	// HAProxy insists on two descriptors per connection it accepts, so the
	// hard limit (raised above only with CAP_SYS_RESOURCE) caps the test.
	if fit := (fdLimit - 300) / 2; o.idleConns > fit {
		logf("idle test capped at %d connections: the open-file hard limit is %d and cannot be raised here", fit, fdLimit)
		o.idleConns = fit
	}

	if o.perf {
		extraTools = append(extraTools, tool{"perf", "linux-perf"})
	}
	missing := ensureTools(o.install, logf)
	dir, err := os.MkdirTemp("", "tlsgate-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		defer logf("configurations and logs kept in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// Runs on every return, also after Ctrl-C (ctx makes everything return).
	p := &procs{}
	defer p.stopAll()

	run := newRun(o, logf)
	run.procs = p
	run.unavailable = map[string]string{}
	for _, m := range missing {
		for _, s := range allServers {
			if s == m {
				run.unavailable[s] = m + " is not installed"
			}
		}
		switch m {
		case "wrk":
			run.skipTests["h1"], run.skipTests["bulk"] = "wrk is not installed", "wrk is not installed"
		case "h2load":
			run.skipTests["h2"] = "h2load (nghttp2-client) is not installed"
		case "taskset":
			logf("taskset is missing: nothing is pinned, so compare CPU per operation only")
			o.serverCPU, o.clientCPU = "", ""
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	e := &env{dir: dir, repo: o.repo, serverCPU: o.serverCPU, clientCPU: o.clientCPU, procs: p,
		maxConns: min(o.idleConns+1000, (fdLimit-100)/2), fdLimit: fdLimit, tlsgateRev: o.tlsgateRev,
		idleConns: o.idleConns}
	if e.ecdsa, e.rsa, _, err = mintCerts(dir); err != nil {
		return fmt.Errorf("mint certificates: %w", err)
	}
	upAddr, err := freeAddr()
	if err != nil {
		return err
	}
	e.upstream = upAddr
	upLog := filepath.Join(dir, "upstream.log")
	if _, err := p.start(o.clientCPU, upLog, nil, selfPath(), "_upstream", "-addr", upAddr); err != nil {
		return err
	}
	if err := waitTCP(ctx, upAddr, 10*time.Second); err != nil {
		return fmt.Errorf("upstream: %w\n%s", err, tail(upLog, 10))
	}

	starters := map[string]func(*env) (*server, error){
		"nginx": startNginx, "haproxy": startHAProxy, "caddy": startCaddy,
		"go-httputil": startGoProxy, "tlsgate": startTLSGate,
	}
	var servers []*server
	for _, name := range allServers {
		if !o.want(name, allServers) {
			continue
		}
		if why := run.unavailable[name]; why != "" {
			logf("%s: not available: %s", name, why)
			continue
		}
		s, err := starters[name](e)
		if err == nil {
			err = waitReady(ctx, s, 20*time.Second)
		}
		if err != nil {
			var na notAvailable
			if errors.As(err, &na) {
				run.unavailable[name] = na.why
				logf("%s: not available: %s", name, na.why)
			} else {
				run.unavailable[name] = firstLine(err.Error())
				logf("%s: failed to start: %v", name, err)
			}
			if s != nil {
				for _, c := range s.cmds {
					p.stop(c)
				}
			}
			continue
		}
		run.versions[name] = s.version
		logf("%s %s ready on %s (ECDSA) and %s (RSA), pids %v", name, s.version, s.ecdsaAddr, s.rsaAddr, s.pids())
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return errors.New("no server could be started; see the messages above")
	}
	run.measureAll(ctx, servers)
	if ctx.Err() == nil {
		run.extras(ctx, e)
	}
	run.finish(time.Since(started))
	if err := run.write(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; partial results in %s", o.out)
	}
	logf("done in %v; results in %s", time.Since(started).Round(time.Second), o.out)
	return nil
}

// notAvailable marks a server that cannot be measured for a known reason
// (not built yet, a missing feature), as opposed to one that failed.
type notAvailable struct{ why string }

func (n notAvailable) Error() string { return n.why }

func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func goVersion() string { return runtime.Version() }
