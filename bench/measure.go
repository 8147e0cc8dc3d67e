package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// sample is one repetition of one test against one server.
type sample struct {
	Value   float64 `json:"value"`
	CPUms   float64 `json:"server_cpu_ms_per_1k,omitempty"` // server CPU ms per 1,000 operations (= µs per operation)
	P50ms   float64 `json:"p50_ms,omitempty"`
	P99ms   float64 `json:"p99_ms,omitempty"`
	Ops     int64   `json:"ops,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Errors  int64   `json:"errors,omitempty"`
	Note    string  `json:"note,omitempty"`
	// Context switches of the server per operation.
	CtxSwitchesPerOp float64 `json:"server_context_switches_per_op,omitempty"`
}

// summary is the median and range over repetitions.
type summary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// result is every repetition of one test against one server, summarized.
type result struct {
	Server string `json:"server"`
	Test   string `json:"test"`
	Label  string `json:"label"`
	Unit   string `json:"unit"`
	// HigherIsBetter tells how to read Value; CPU is always lower-is-better.
	HigherIsBetter bool     `json:"higher_is_better"`
	Samples        []sample `json:"samples"`
	Value          summary  `json:"value"`
	CPU            *summary `json:"server_cpu_ms_per_1k,omitempty"`
	P50            *summary `json:"p50_ms,omitempty"`
	P99            *summary `json:"p99_ms,omitempty"`
	// Median context switches per operation.
	CtxSwitches float64 `json:"server_context_switches_per_op,omitempty"`
	Errors      int64   `json:"errors"`
	// Failure is the last failed repetition's error; Failures counts them.
	Failure  string `json:"failure,omitempty"`
	Failures int    `json:"failed_repetitions,omitempty"`
	// Ratios to nginx in the same run: Value and CPU.
	ValueVsNginx float64 `json:"value_vs_nginx,omitempty"`
	CPUVsNginx   float64 `json:"cpu_vs_nginx,omitempty"`
}

// testDef is one measurement the harness knows how to make.
type testDef struct {
	name, label, unit string
	higherIsBetter    bool // for the value; server CPU per operation is always lower-is-better
	cpu               bool // read the server's CPU time around it
	applies           func(*server) bool
	run               func(ctx context.Context, s *server) (loadResult, error)
	warmup            func(ctx context.Context, s *server)
}

func (r *benchRun) tests() []testDef {
	o := r.o
	c := o.clientCPU
	wrkConns, h2Conns, h2Streams, bulkConns, hsConc := 50, 8, 32, 8, 16
	return []testDef{
		{name: "idle", label: "memory per idle TLS connection", unit: "KiB/conn",
			run: func(ctx context.Context, s *server) (loadResult, error) { return r.idle(ctx, s) }},
		{name: "h1", label: "HTTP/1.1 keep-alive, small response", unit: "req/s", higherIsBetter: true, cpu: true,
			run: func(ctx context.Context, s *server) (loadResult, error) {
				return runWrk(ctx, c, "https://"+s.ecdsaAddr+"/", wrkConns, o.dur)
			},
			warmup: func(ctx context.Context, s *server) {
				runWrk(ctx, c, "https://"+s.ecdsaAddr+"/", wrkConns, time.Second)
			}},
		{name: "h2", label: "HTTP/2, small response", unit: "req/s", higherIsBetter: true, cpu: true,
			run: func(ctx context.Context, s *server) (loadResult, error) {
				return runH2load(ctx, c, "https://"+s.ecdsaAddr+"/", h2Conns, h2Streams, o.dur)
			},
			warmup: func(ctx context.Context, s *server) {
				runH2load(ctx, c, "https://"+s.ecdsaAddr+"/", h2Conns, h2Streams, time.Second)
			}},
		{name: "hs-ecdsa", label: "full TLS 1.3 handshake, X25519, ECDSA P-256", unit: "hs/s", higherIsBetter: true, cpu: true,
			run: func(ctx context.Context, s *server) (loadResult, error) {
				return runHandshakes(ctx, c, s.ecdsaAddr, "x25519", false, hsConc, o.hsDur)
			}},
		{name: "hs-rsa", label: "full TLS 1.3 handshake, X25519, RSA-2048", unit: "hs/s", higherIsBetter: true, cpu: true,
			run: func(ctx context.Context, s *server) (loadResult, error) {
				return runHandshakes(ctx, c, s.rsaAddr, "x25519", false, hsConc, o.hsDur)
			}},
		{name: "hs-mlkem", label: "full TLS 1.3 handshake, X25519MLKEM768, ECDSA P-256 (ratios to nginx with X25519)", unit: "hs/s", higherIsBetter: true, cpu: true,
			applies: func(s *server) bool { return s.pq },
			run: func(ctx context.Context, s *server) (loadResult, error) {
				return runHandshakes(ctx, c, s.ecdsaAddr, "mlkem", false, hsConc, o.hsDur)
			}},
		{name: "resume", label: "resumed TLS 1.3 handshake (session ticket)", unit: "hs/s", higherIsBetter: true, cpu: true,
			run: func(ctx context.Context, s *server) (loadResult, error) {
				return runHandshakes(ctx, c, s.ecdsaAddr, "x25519", true, hsConc, o.hsDur)
			}},
		{name: "bulk", label: "1 MiB responses, HTTP/1.1 keep-alive", unit: "MiB/s", higherIsBetter: true, cpu: true,
			run: func(ctx context.Context, s *server) (loadResult, error) {
				lr, err := runWrk(ctx, c, "https://"+s.ecdsaAddr+"/1m", bulkConns, o.dur)
				lr.rate = lr.mibps
				return lr, err
			},
			warmup: func(ctx context.Context, s *server) {
				runWrk(ctx, c, "https://"+s.ecdsaAddr+"/1m", bulkConns, time.Second)
			}},
	}
}

// measureAll runs every test: for each test, repetition after repetition,
// every server in turn (the order rotated each time), so that slow drift of a
// shared machine spreads over all servers instead of favouring one.
func (r *benchRun) measureAll(ctx context.Context, servers []*server) {
	for _, t := range r.tests() {
		if !r.o.want(t.name, allTests) {
			continue
		}
		if why, ok := r.skipTests[t.name]; ok {
			r.logf("%s: not run: %s", t.name, why)
			continue
		}
		var targets []*server
		for _, s := range servers {
			if t.applies == nil || t.applies(s) {
				targets = append(targets, s)
			}
		}
		if len(targets) == 0 {
			continue
		}
		byServer := map[string]*result{}
		for _, s := range targets {
			res := &result{Server: s.name, Test: t.name, Label: t.label, Unit: t.unit, HigherIsBetter: t.higherIsBetter}
			byServer[s.name] = res
			r.results = append(r.results, res)
			if t.warmup != nil && !r.o.smoke && ctx.Err() == nil {
				t.warmup(ctx, s)
			}
		}
		reps := r.o.reps
		if t.name == "idle" && !r.o.smoke && reps > 2 {
			reps = 2 // each holds thousands of connections; two agree closely
		}
		for rep := 0; rep < reps && ctx.Err() == nil; rep++ {
			for i := range targets {
				s := targets[(i+rep)%len(targets)]
				res := byServer[s.name]
				if res.Failures >= 2 || ctx.Err() != nil {
					continue // a server that failed twice would only waste the run's time
				}
				csw0, cpu0 := ctxSwitches(s.pids()), cpuSeconds(s.pids())
				lr, err := t.run(ctx, s)
				cpu1, csw1 := cpuSeconds(s.pids()), ctxSwitches(s.pids())
				if err == nil && lr.ops == 0 {
					err = fmt.Errorf("the load generator completed no operation in %v", r.o.dur)
				}
				if err != nil {
					res.Failures++
					res.Failure = firstLine(err.Error())
					r.logf("%s %s rep %d failed: %v", s.name, t.name, rep+1, err)
					continue
				}
				smp := sample{Value: lr.rate, P50ms: lr.p50ms, P99ms: lr.p99ms, Ops: lr.ops,
					Seconds: lr.seconds, Errors: lr.errors, Note: lr.note}
				if t.cpu && lr.ops > 0 {
					smp.CPUms = (cpu1 - cpu0) / float64(lr.ops) * 1e6
					smp.CtxSwitchesPerOp = float64(csw1-csw0) / float64(lr.ops)
				}
				res.Samples = append(res.Samples, smp)
				res.Errors += lr.errors
				r.logf("%-11s %-8s rep %d: %10.1f %-8s server CPU %7.1f ms/1k ops %s", s.name, t.name, rep+1,
					smp.Value, t.unit, smp.CPUms, lr.note)
			}
		}
		if r.o.perf && t.cpu {
			for _, s := range targets {
				if len(byServer[s.name].Samples) > 0 && ctx.Err() == nil {
					r.profile(ctx, t, s)
				}
			}
		}
	}
}

// idle opens many TLS connections to s, holds them without a request and
// reports the growth of the server's resident memory per connection.
func (r *benchRun) idle(ctx context.Context, s *server) (loadResult, error) {
	settle := time.Second
	if r.o.smoke {
		settle = 200 * time.Millisecond
	}
	time.Sleep(settle / 2)
	// Memory freed after one repetition stays with the server's allocator
	// and is reused by the next, so every repetition is measured from the
	// RSS the server had before the first.
	if s.idleBaseKiB == 0 {
		s.idleBaseKiB = rssKiB(s.pids())
	}
	before := s.idleBaseKiB
	args := []string{"_idle", "-addr", s.ecdsaAddr, "-n", fmt.Sprint(r.o.idleConns), "-c", "32"}
	name, argv := selfPath(), args
	if r.o.clientCPU != "" {
		name, argv = "taskset", append([]string{"-c", r.o.clientCPU, selfPath()}, args...)
	}
	cmd := exec.Command(name, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return loadResult{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return loadResult{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return loadResult{}, err
	}
	r.procs.track(cmd)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer r.procs.stop(cmd)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	limit := time.Duration(r.o.idleConns)*10*time.Millisecond + time.Minute
	var ok, failed int64
	select {
	case line, more := <-lines:
		if !more {
			<-exited
			return loadResult{}, fmt.Errorf("idle client ended early: %s", stderr.String())
		}
		if _, err := fmt.Sscanf(line, "ready %d %d", &ok, &failed); err != nil {
			return loadResult{}, fmt.Errorf("idle client said %q", line)
		}
	case <-time.After(limit):
		return loadResult{}, fmt.Errorf("idle client did not open %d connections within %v", r.o.idleConns, limit)
	case <-ctx.Done():
		return loadResult{}, ctx.Err()
	}
	time.Sleep(settle)
	after := rssKiB(s.pids())
	stdin.Close()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
	}
	if ok == 0 {
		return loadResult{}, fmt.Errorf("no idle connection could be opened: %s", stderr.String())
	}
	lr := loadResult{ops: ok, errors: failed, rate: float64(after-before) / float64(ok),
		note: fmt.Sprintf("RSS %.1f -> %.1f MiB with %d connections", float64(before)/1024, float64(after)/1024, ok)}
	// Let the server release the connections before the next measurement.
	time.Sleep(settle)
	return lr, nil
}
