package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// extras measures what is not a terminator: CA issuance and tunnel
// throughput from the packages' own Go benchmarks, and tlsgate scan against
// testssl.sh through bench/scan_vs_testssl.sh. Each is reported as not
// available until the code it measures exists.
func (r *benchRun) extras(ctx context.Context, e *env) {
	if r.o.want("ca", allExtras) {
		r.caIssue(ctx, e)
		r.goBench(ctx, "ca", "internal/pki", "")
	}
	if r.o.want("tunnel", allExtras) {
		r.tunnelBench(ctx)
	}
	if r.o.want("scan", allExtras) {
		r.scanVsTestssl(ctx)
	}
}

var (
	benchLine   = regexp.MustCompile(`(?m)^(Benchmark\S+?)(?:-\d+)?\s+(\d+)\s+([\d.]+) ns/op(.*)$`)
	benchMetric = regexp.MustCompile(`([\d.]+) (\S+/s)\b`)
)

// goBench runs the Go benchmarks of one package on the server CPU and adds
// a row per benchmark: operations per second, and MB/s where the benchmark
// sets bytes. With baseline set, rows are also given as a ratio to the
// benchmark whose name contains it (e.g. direct TLS for the tunnel).
func (r *benchRun) goBench(ctx context.Context, name, pkg, baseline string) {
	dir := filepath.Join(r.o.repo, pkg)
	if !hasBenchmarks(dir) {
		r.extraRows = append(r.extraRows, extraRow{Name: name + ": go test -bench ./" + pkg, Missing: "no Go benchmarks there yet"})
		return
	}
	benchtime := "2s"
	if r.o.smoke {
		if !r.o.only[name] {
			// Building a test binary can take a minute on a cold cache.
			r.extraRows = append(r.extraRows, extraRow{Name: name + ": go test -bench ./" + pkg,
				Missing: "skipped in smoke mode (compiling the benchmark takes long); run with --only " + name})
			return
		}
		benchtime = "1x"
	}
	r.logf("%s: go test -bench in %s (benchtime %s)", name, pkg, benchtime)
	cmd := []string{"go", "test", "-run", "^$", "-bench", ".", "-benchtime", benchtime, "./" + pkg}
	out, err := runCmdIn(ctx, r.o.repo, 10*time.Minute, r.o.serverCPU, cmd[0], cmd[1:]...)
	if err != nil {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: "go test -bench ./" + pkg + " failed: " + lastLine(out)})
		return
	}
	var rows []extraRow
	var base float64
	for _, m := range benchLine.FindAllStringSubmatch(out, -1) {
		ns, _ := strconv.ParseFloat(m[3], 64)
		row := extraRow{Name: name + ": " + m[1]}
		// A rate the benchmark reports itself (MB/s from SetBytes, or a
		// custom metric such as certs/s) says more than ns/op.
		if rate := benchMetric.FindStringSubmatch(m[4]); rate != nil {
			row.Value, _ = strconv.ParseFloat(rate[1], 64)
			row.Unit = rate[2]
		} else if ns > 0 {
			row.Value, row.Unit = 1e9/ns, "ops/s"
		}
		row.Note = strings.Join(strings.Fields(fmt.Sprintf("%s ns/op %s, %s iterations", m[3], m[4], m[2])), " ")
		if baseline != "" && strings.Contains(m[1], baseline) {
			base = row.Value
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: "no benchmark result in the output of go test -bench ./" + pkg})
		return
	}
	for i := range rows {
		if base > 0 && !strings.Contains(rows[i].Name, baseline) {
			rows[i].Ratio, rows[i].Versus = rows[i].Value/base, "of "+strings.ToLower(baseline)
		}
	}
	r.extraRows = append(r.extraRows, rows...)
}

// tunnelBench runs BenchmarkBulkTransfer of internal/tunnel: 1 GiB (16 x
// 64 MiB) over one direct TLS connection, through a client and a server
// tunnel, over one plaintext hop and through two plaintext relays, three
// times each. Rows give the median throughput and CPU per MiB; the tunnel
// row gives its ratio to direct TLS, and a last row what the tunnel pair
// costs beyond direct TLS and the two plaintext hops it cannot avoid.
func (r *benchRun) tunnelBench(ctx context.Context) {
	const pkg = "internal/tunnel"
	if !hasBenchmarks(filepath.Join(r.o.repo, pkg)) {
		r.extraRows = append(r.extraRows, extraRow{Name: "tunnel: go test -bench ./" + pkg, Missing: "no Go benchmarks there yet"})
		return
	}
	if r.o.smoke && !r.o.only["tunnel"] {
		r.extraRows = append(r.extraRows, extraRow{Name: "tunnel: go test -bench ./" + pkg,
			Missing: "skipped in smoke mode (compiling the benchmark takes long); run with --only tunnel"})
		return
	}
	iterations, count := "16", "3" // 16 x 64 MiB = 1 GiB
	if r.o.smoke {
		iterations, count = "1", "1"
	}
	cpus := "all CPUs"
	if r.o.serverCPU != "" {
		cpus = "CPU " + r.o.serverCPU
	}
	r.logf("tunnel: go test -bench BulkTransfer in %s (%s x 64 MiB, %s runs, %s)", pkg, iterations, count, cpus)
	out, err := runCmdIn(ctx, r.o.repo, 10*time.Minute, r.o.serverCPU, "go", "test", "-run", "^$",
		"-bench", "^BenchmarkBulkTransfer$", "-benchtime", iterations+"x", "-count", count, "./"+pkg)
	if err != nil {
		r.extraRows = append(r.extraRows, extraRow{Name: "tunnel", Missing: "go test -bench ./" + pkg + " failed: " + lastLine(out)})
		return
	}
	type sample struct{ mbs, cpu []float64 }
	runs := map[string]*sample{}
	for _, m := range benchLine.FindAllStringSubmatch(out, -1) {
		name := strings.TrimPrefix(m[1], "BenchmarkBulkTransfer/")
		s := runs[name]
		if s == nil {
			s = &sample{}
			runs[name] = s
		}
		for _, mm := range benchValue.FindAllStringSubmatch(m[4], -1) {
			v, _ := strconv.ParseFloat(mm[1], 64)
			switch mm[2] {
			case "MB/s":
				s.mbs = append(s.mbs, v)
			case "cpu-ms/MiB":
				s.cpu = append(s.cpu, v)
			}
		}
	}
	cases := []struct{ name, label string }{
		{"Direct", "direct TLS"},
		{"Tunnels", "client tunnel + server tunnel"},
		{"Plain", "plaintext, one hop"},
		{"PlainRelays", "plaintext through two relays"},
	}
	mbs, cpu := map[string]float64{}, map[string]float64{}
	for _, c := range cases {
		s := runs[c.name]
		if s == nil || len(s.mbs) == 0 || len(s.cpu) == 0 {
			r.extraRows = append(r.extraRows, extraRow{Name: "tunnel: " + c.label, Missing: "no " + c.name + " result in the output of go test -bench ./" + pkg})
			return
		}
		mbs[c.name], cpu[c.name] = median(s.mbs), median(s.cpu)
	}
	size := iterations + " x 64 MiB"
	if iterations == "16" {
		size = "1 GiB"
	}
	note := func(name string) string {
		return fmt.Sprintf("%s, %.3f cpu-ms/MiB; median of %d runs, %s", size, cpu[name], len(runs[name].mbs), cpus)
	}
	for _, c := range cases {
		row := extraRow{Name: "tunnel: " + c.label, Value: mbs[c.name], Unit: "MB/s", Note: note(c.name)}
		if c.name == "Tunnels" {
			row.Ratio, row.Versus = mbs["Tunnels"]/mbs["Direct"], "of direct TLS throughput"
			row.Note = fmt.Sprintf("%s; %.2fx the CPU per byte of direct TLS", row.Note, cpu["Tunnels"]/cpu["Direct"])
		}
		r.extraRows = append(r.extraRows, row)
	}
	hops := cpu["PlainRelays"] - cpu["Plain"]
	own := cpu["Tunnels"] - cpu["Direct"] - hops
	r.extraRows = append(r.extraRows, extraRow{Name: "tunnel: CPU beyond direct TLS and the two plaintext hops", Value: own, Unit: "cpu-ms/MiB",
		Note: fmt.Sprintf("tunnels %.3f - direct TLS %.3f - two plaintext hops %.3f (two relays %.3f - one hop %.3f)",
			cpu["Tunnels"], cpu["Direct"], hops, cpu["PlainRelays"], cpu["Plain"])})
}

// benchValue is one "value unit" pair after ns/op on a benchmark line.
var benchValue = regexp.MustCompile(`([\d.]+) (\S+)`)

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func hasBenchmarks(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), "func Benchmark") {
			return true
		}
	}
	return false
}

// scanVsTestssl runs bench/scan_vs_testssl.sh, when it exists: it starts
// its own loopback server, times tlsgate scan (averaged over rounds) and one
// default testssl.sh run, and prints both; the harness turns them into rows.
func (r *benchRun) scanVsTestssl(ctx context.Context) {
	const name = "scan vs testssl.sh"
	script := filepath.Join(r.o.repo, "bench", "scan_vs_testssl.sh")
	if _, err := os.Stat(script); err != nil {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: "bench/scan_vs_testssl.sh does not exist yet"})
		return
	}
	if r.o.smoke && !r.o.only["scan"] {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: "skipped in smoke mode (testssl.sh takes minutes); run with --only scan"})
		return
	}
	rounds := "3"
	if r.o.smoke {
		rounds = "1"
	}
	r.logf("scan: bash bench/scan_vs_testssl.sh %s", rounds)
	out, err := runCmdIn(ctx, r.o.repo, 20*time.Minute, "", "bash", script, rounds)
	scanM := scanAvg.FindStringSubmatch(out)
	testsslM := testsslTime.FindStringSubmatch(out)
	if err != nil || scanM == nil || testsslM == nil {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: "bench/scan_vs_testssl.sh failed: " + lastLine(out)})
		return
	}
	scanS, _ := strconv.ParseFloat(scanM[1], 64)
	testsslS, _ := strconv.ParseFloat(testsslM[1], 64)
	row := extraRow{Name: "scan: tlsgate scan wall time", Value: scanS, Unit: "s", Note: "average of " + rounds + " rounds, " + strings.TrimSpace(scanM[2])}
	if scanS > 0 {
		row.Ratio, row.Versus = testsslS/scanS, "faster than testssl.sh"
	}
	r.extraRows = append(r.extraRows, row,
		extraRow{Name: "scan: testssl.sh wall time", Value: testsslS, Unit: "s", Note: "one default run, " + strings.TrimSpace(testsslM[2])})
}

var (
	scanAvg     = regexp.MustCompile(`tlsgate scan\s+average:\s+([\d.]+)s(.*)`)
	testsslTime = regexp.MustCompile(`testssl\.sh\s+default:\s+([\d.]+)s(.*)`)
)

// caIssue times `tlsgate ca issue` as a user runs it: one process per
// certificate, a fresh ECDSA key each, recorded in the CA's durable store.
// Process start-up is part of the figure, as it is for the user.
func (r *benchRun) caIssue(ctx context.Context, e *env) {
	const name = "ca: tlsgate ca issue, one process each"
	bin, err := e.tlsgate()
	if err != nil {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: err.Error()})
		return
	}
	home := filepath.Join(e.dir, "ca-home")
	out := filepath.Join(e.dir, "ca-out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: err.Error()})
		return
	}
	if o, err := runCmd(ctx, time.Minute, r.o.serverCPU, bin, "--home", home, "ca", "init"); err != nil {
		r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: fmt.Sprintf("tlsgate ca init failed: %v: %s", err, firstLine(o))})
		return
	}
	n := 100
	if r.o.smoke {
		n = 5
	}
	r.logf("ca: %d x tlsgate ca issue", n)
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		o, err := runCmd(ctx, time.Minute, r.o.serverCPU, bin, "--home", home, "ca", "issue", "--profile", "server",
			"--dns", fmt.Sprintf("host%d.bench.test", i), "--out", out, "--force")
		if err != nil {
			r.extraRows = append(r.extraRows, extraRow{Name: name, Missing: fmt.Sprintf("tlsgate ca issue failed: %v: %s", err, firstLine(o))})
			return
		}
	}
	secs := time.Since(start).Seconds()
	r.extraRows = append(r.extraRows, extraRow{Name: name, Value: float64(n) / secs, Unit: "certs/s",
		Note: fmt.Sprintf("%d certificates in %.2f s, ECDSA P-256, SQLite store", n, secs)})
}
