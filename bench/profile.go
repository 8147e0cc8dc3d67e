package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profile runs one extra, unrecorded repetition of t against s under
// `perf record` (sampling every process of the server, call graphs on) and
// writes the flat profile, heaviest functions first, to
// OUT/perf/SERVER-TEST.txt. It works for every server alike, C or Go, and
// needs nothing from the server itself; the repetition is not counted
// because sampling costs the server CPU time.
func (r *benchRun) profile(ctx context.Context, t testDef, s *server) {
	dir := filepath.Join(r.o.out, "perf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.logf("perf: %v", err)
		return
	}
	var pids []string
	for _, root := range s.pids() {
		for _, p := range tree(root) {
			pids = append(pids, strconv.Itoa(p))
		}
	}
	base := filepath.Join(dir, s.name+"-"+t.name)
	data := base + ".data"
	defer os.Remove(data)
	rec := exec.Command("perf", "record", "-F", "999", "-g", "-q", "-o", data, "-p", strings.Join(pids, ","))
	rec.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var recOut strings.Builder
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		r.logf("perf record: %v", err)
		return
	}
	r.procs.track(rec)
	exited := make(chan struct{})
	go func() { rec.Wait(); close(exited) }()
	// System calls of every kind, counted by the kernel's tracepoint: unlike
	// /proc/PID/io this sees recv/send and epoll as well as read/write.
	statFile := base + ".stat"
	defer os.Remove(statFile)
	stat := exec.Command("perf", "stat", "-x", ",", "-o", statFile, "-e", "raw_syscalls:sys_enter", "-p", strings.Join(pids, ","))
	stat.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	statExited := make(chan struct{})
	if err := stat.Start(); err == nil {
		r.procs.track(stat)
		go func() { stat.Wait(); close(statExited) }()
	} else {
		close(statExited)
	}
	time.Sleep(300 * time.Millisecond) // let perf attach before the load starts
	lr, runErr := t.run(ctx, s)
	for _, c := range []*exec.Cmd{rec, stat} {
		if c.Process != nil {
			_ = syscall.Kill(c.Process.Pid, syscall.SIGINT)
		}
	}
	for _, ch := range []chan struct{}{exited, statExited} {
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
		}
	}
	r.procs.stop(rec)
	r.procs.stop(stat)
	var syscallsPerOp float64
	if b, err := os.ReadFile(statFile); err == nil && lr.ops > 0 {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ",")
			if len(f) > 2 && strings.Contains(line, "raw_syscalls:sys_enter") {
				n, _ := strconv.ParseFloat(f[0], 64)
				syscallsPerOp = n / float64(lr.ops)
			}
		}
	}
	if runErr != nil {
		r.logf("perf %s %s: the profiled run failed: %v", s.name, t.name, runErr)
		return
	}
	out, err := runCmd(ctx, 2*time.Minute, "", "perf", "report", "-i", data, "--stdio", "--no-children",
		"--sort", "dso,symbol", "-g", "none")
	if err != nil {
		r.logf("perf report %s %s: %v: %s %s", s.name, t.name, err, firstLine(out), firstLine(recOut.String()))
		return
	}
	var lines []string
	samples := "?"
	buckets := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "# Samples: "); ok {
			samples, _, _ = strings.Cut(v, " ")
		}
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasPrefix(line, "#") || !strings.HasSuffix(f[0], "%") {
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		buckets[costBucket(f[1], f[2], f[3])] += pct
		if len(lines) < 40 {
			lines = append(lines, fmt.Sprintf("%7.2f%%  %-22s %s", pct, f[1], f[3]))
		}
	}
	if len(lines) == 0 {
		r.logf("perf %s %s: no samples (%s)", s.name, t.name, firstLine(recOut.String()))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s: where the server's CPU time went (%s perf samples at 999 Hz, self time)\n",
		s.name, t.label, samples)
	fmt.Fprintf(&b, "system calls per operation (all kinds): %.2f\n\n", syscallsPerOp)
	for _, k := range bucketOrder {
		if buckets[k] > 0 {
			fmt.Fprintf(&b, "%7.2f%%  %s\n", buckets[k], k)
		}
	}
	b.WriteString("\nheaviest functions:\n")
	b.WriteString(strings.Join(lines, "\n") + "\n")
	// Inclusive time (the function and all it calls) names the code paths,
	// e.g. the request handler, that the self times above add up to.
	if out, err := runCmd(ctx, 2*time.Minute, "", "perf", "report", "-i", data, "--stdio", "--children",
		"--sort", "symbol", "-g", "none"); err == nil {
		b.WriteString("\nheaviest code paths (inclusive: the function and everything it calls):\n")
		n := 0
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || strings.HasPrefix(line, "#") || !strings.HasSuffix(f[0], "%") || f[2] == "[k]" {
				continue
			}
			fmt.Fprintf(&b, "%7s  %s\n", f[0], strings.Join(f[3:], " "))
			if n++; n == 30 {
				break
			}
		}
	}
	r.profileSummaries = append(r.profileSummaries, profileSummary{Server: s.name, Test: t.name, Buckets: buckets,
		SyscallsPerOp: syscallsPerOp})
	if err := os.WriteFile(base+".txt", []byte(b.String()), 0o644); err != nil {
		r.logf("perf: %v", err)
		return
	}
	r.logf("perf: %s %s profile in %s", s.name, t.name, base+".txt")
}

// bucketOrder names the kinds of work a profile is summed into.
var bucketOrder = []string{"crypto", "kernel (network, scheduling)", "Go garbage collector", "memory allocation",
	"Go scheduler and netpoll", "HTTP parsing and proxying", "other"}

// costBucket sorts one sampled function into a kind of work. Kernel time is
// mostly the loopback network stack and context switches.
func costBucket(dso, kind, sym string) string {
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(sym, x) {
				return true
			}
		}
		return false
	}
	switch {
	case kind == "[k]":
		return "kernel (network, scheduling)"
	case strings.Contains(dso, "libcrypto") || strings.Contains(dso, "libssl") ||
		has("crypto/", "edwards25519", "nistec", "aes", "gcm", "sha256", "p256", "bigmod", "mlkem", "chacha", "poly1305"):
		return "crypto"
	case has("runtime.gc", "runtime.scan", "runtime.mark", "runtime.greyobject", "runtime.findObject", "SpanScan",
		"runtime.(*mspan)", "runtime.sweep", "runtime.bgsweep", "runtime.(*gcWork)", "gc/scan", "runtime.wbBuf",
		"runtime.(*mheap)", "runtime.heapBits", "runtime.typePointers", "runtime.bulkBarrier",
		"runtime.pcvalue", "runtime.step", "runtime.(*unwinder)", "runtime.funcspdelta", "runtime.(*activeSweep)",
		"runtime.(*sweepLocked)"):
		return "Go garbage collector"
	case has("runtime.malloc", "runtime.memclr", "runtime.newobject", "runtime.newarray", "runtime.growslice",
		"runtime.nextFree", "runtime.(*mcache)", "runtime.(*mcentral)", "runtime.makeslice", "runtime.makemap",
		"runtime.memmove", "writeHeapBits", "_int_", "unlink_chunk", "ngx_palloc", "ngx_pnalloc", "ngx_pcalloc", "malloc", "free", "pool_alloc", "pool_free"):
		return "memory allocation"
	case has("runtime.schedule", "runtime.findRunnable", "runtime.gopark", "runtime.goready", "runtime.netpoll",
		"runtime.futex", "runtime.selectgo", "runtime.mcall", "runtime.park_m", "runtime.execute", "runtime.runq",
		"runtime.stealWork", "runtime.lock", "runtime.unlock", "runtime.notesleep", "runtime.ready", "runtime.casgstatus",
		"runtime.newproc", "runtime.goexit", "runtime.usleep", "runtime.nanotime", "runtime.entersyscall",
		"runtime.exitsyscall", "internal/poll", "syscall.", "clock_gettime", "runtime.unlock2", "runtime.lock2", "runtime.chan", "runtime.send", "runtime.recv", "epoll"):
		return "Go scheduler and netpoll"
	case has("net/http", "net/textproto", "httputil", "bufio", "ngx_http", "h2_", "http_", "htx", "hpack", "http2"):
		return "HTTP parsing and proxying"
	}
	return "other"
}

// profileSummary is one profile's split by kind of work, for results.json.
type profileSummary struct {
	Server  string             `json:"server"`
	Test    string             `json:"test"`
	Buckets map[string]float64 `json:"percent_by_kind"`
	// SyscallsPerOp counts every system call of the server per operation.
	SyscallsPerOp float64 `json:"syscalls_per_op"`
}
