package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// benchRun holds the options and everything measured in one run.
type benchRun struct {
	o           *options
	logf        func(string, ...any)
	procs       *procs
	started     time.Time
	elapsed     time.Duration
	versions    map[string]string
	unavailable map[string]string // server -> why it was not measured
	skipTests   map[string]string // test -> why it was not run
	results     []*result
	extraRows   []extraRow

	profileSummaries []profileSummary
}

// extraRow is a figure from outside the terminator comparison: CA issuance,
// tunnel throughput, scan wall time.
type extraRow struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value,omitempty"`
	Unit    string  `json:"unit,omitempty"`
	Versus  string  `json:"versus,omitempty"` // what the ratio compares with
	Ratio   float64 `json:"ratio,omitempty"`
	Note    string  `json:"note,omitempty"`
	Missing string  `json:"not_available,omitempty"`
}

func newRun(o *options, logf func(string, ...any)) *benchRun {
	return &benchRun{o: o, logf: logf, started: time.Now(), versions: map[string]string{}, skipTests: map[string]string{}}
}

// finish summarizes repetitions and computes the ratios to nginx.
func (r *benchRun) finish(elapsed time.Duration) {
	r.elapsed = elapsed
	nginx := map[string]*result{}
	for _, res := range r.results {
		var vals, cpu, p50, p99, csw []float64
		for _, s := range res.Samples {
			vals = append(vals, s.Value)
			if s.CPUms > 0 {
				csw = append(csw, s.CtxSwitchesPerOp)
			}
			if s.CPUms > 0 {
				cpu = append(cpu, s.CPUms)
			}
			if s.P50ms > 0 {
				p50 = append(p50, s.P50ms)
				p99 = append(p99, s.P99ms)
			}
		}
		res.Value = summarize(vals)
		res.CtxSwitches = summarize(csw).Median
		if len(cpu) > 0 {
			c := summarize(cpu)
			res.CPU = &c
		}
		if len(p50) > 0 {
			a, b := summarize(p50), summarize(p99)
			res.P50, res.P99 = &a, &b
		}
		if res.Server == "nginx" && len(res.Samples) > 0 {
			nginx[res.Test] = res
		}
	}
	for _, res := range r.results {
		n := nginx[res.Test]
		if res.Test == "hs-mlkem" {
			// nginx cannot offer the hybrid group: compare with its X25519 handshake.
			n = nginx["hs-ecdsa"]
		}
		if n == nil || len(res.Samples) == 0 {
			continue
		}
		if n.Value.Median > 0 {
			res.ValueVsNginx = res.Value.Median / n.Value.Median
		}
		if n.CPU != nil && res.CPU != nil && n.CPU.Median > 0 {
			res.CPUVsNginx = res.CPU.Median / n.CPU.Median
		}
	}
}

func (r *benchRun) find(server, test string) *result {
	for _, res := range r.results {
		if res.Server == server && res.Test == test && len(res.Samples) > 0 {
			return res
		}
	}
	return nil
}

// report is the JSON document written to the out directory.
type report struct {
	Started     time.Time         `json:"started"`
	Seconds     float64           `json:"seconds"`
	Mode        string            `json:"mode"`
	Host        map[string]string `json:"host"`
	Reps        int               `json:"repetitions"`
	Duration    string            `json:"repetition_length"`
	IdleConns   int               `json:"idle_connections"`
	ServerCPUs  string            `json:"server_cpus"`
	ClientCPUs  string            `json:"client_cpus"`
	Versions    map[string]string `json:"versions"`
	Unavailable map[string]string `json:"not_available"`
	Skipped     map[string]string `json:"tests_not_run,omitempty"`
	Results     []*result         `json:"results"`
	Extras      []extraRow        `json:"extras"`
	Targets     []targetCheck     `json:"targets"`
	Profiles    []profileSummary  `json:"profiles,omitempty"`
}

func (r *benchRun) write() error {
	mode := "full"
	if r.o.smoke {
		mode = "smoke"
	}
	rep := report{
		Started: r.started.UTC(), Seconds: r.elapsed.Seconds(), Mode: mode, Host: hostInfo(),
		Reps: r.o.reps, Duration: r.o.dur.String(), IdleConns: r.o.idleConns,
		ServerCPUs: r.o.serverCPU, ClientCPUs: r.o.clientCPU,
		Versions: r.versions, Unavailable: r.unavailable, Skipped: r.skipTests, Results: r.results, Extras: r.extraRows,
		Targets: r.targets(), Profiles: r.profileSummaries,
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.o.out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	var text strings.Builder
	r.printTable(io.MultiWriter(os.Stdout, &text), rep)
	if err := os.WriteFile(filepath.Join(r.o.out, "results.txt"), []byte(text.String()), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	r.writeMarkdown(&md, rep)
	if err := os.WriteFile(filepath.Join(r.o.out, "results.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	charts := []string{filepath.Join(r.o.out, "bench.png")}
	if r.o.chart != "" {
		charts = append(charts, r.o.chart)
	}
	for _, path := range charts {
		if err := r.drawChart(path, rep); err != nil {
			r.logf("chart %s: %v", path, err)
		}
	}
	return nil
}

func hostInfo() map[string]string {
	h := map[string]string{"cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				h["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		h["debian"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h["loadavg_at_end"] = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return h
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func num(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func rangeOf(s summary) string {
	if s.Min == s.Max {
		return ""
	}
	return num(s.Min) + "-" + num(s.Max)
}

func (r *benchRun) printTable(w io.Writer, rep report) {
	fmt.Fprintf(w, "\ntlsgate bench, %s run, %d repetition(s) of %s, server on CPU %q, load on CPU %q, %s, load average at end %s\n",
		rep.Mode, rep.Reps, rep.Duration, rep.ServerCPUs, rep.ClientCPUs, rep.Host["cpu"], rep.Host["loadavg_at_end"])
	fmt.Fprintln(w, "Figures are medians (min-max); ratios compare medians with nginx in this same run.")
	fmt.Fprintln(w, "Server CPU is the server's own user+system time per 1,000 operations, in ms (= µs per operation);")
	fmt.Fprintln(w, "csw/op is its context switches per operation, over all its threads and processes.")
	var vs []string
	for _, s := range allServers {
		if v, ok := rep.Versions[s]; ok {
			vs = append(vs, s+" "+v)
		}
	}
	fmt.Fprintf(w, "Versions: %s\n", strings.Join(vs, ", "))
	lastTest := ""
	for _, res := range r.results {
		if res.Test != lastTest {
			lastTest = res.Test
			fmt.Fprintf(w, "\n%s [%s]\n", res.Label, res.Unit)
			fmt.Fprintf(w, "  %-12s %10s %-19s %7s %12s %-15s %7s %8s %8s %6s %6s  %s\n",
				"server", "value", "(min-max)", "/nginx", "CPU ms/1k", "(min-max)", "/nginx", "p50 ms", "p99 ms",
				"csw/op", "errors", "note")
		}
		if len(res.Samples) == 0 {
			fmt.Fprintf(w, "  %-12s failed: %s\n", res.Server, res.Failure)
			continue
		}
		cpu, cpuRange := "-", ""
		if res.CPU != nil {
			cpu, cpuRange = num(res.CPU.Median), rangeOf(*res.CPU)
		}
		p50, p99 := "-", "-"
		if res.P50 != nil {
			p50, p99 = num(res.P50.Median), num(res.P99.Median)
		}
		note := res.Samples[len(res.Samples)-1].Note
		if res.Failure != "" {
			note = fmt.Sprintf("%d repetition(s) failed: %s", res.Failures, res.Failure)
		}
		fmt.Fprintf(w, "  %-12s %10s %-19s %7s %12s %-15s %7s %8s %8s %6s %6d  %s\n", res.Server,
			num(res.Value.Median), rangeOf(res.Value), ratio(res.ValueVsNginx), cpu, cpuRange, ratio(res.CPUVsNginx),
			p50, p99, num(res.CtxSwitches), res.Errors, note)
	}
	if len(rep.Unavailable)+len(rep.Skipped) > 0 {
		fmt.Fprintln(w, "\nNot measured:")
		for _, s := range allServers {
			if why, ok := rep.Unavailable[s]; ok {
				fmt.Fprintf(w, "  %-12s not available: %s\n", s, why)
			}
		}
		for _, t := range allTests {
			if why, ok := rep.Skipped[t]; ok {
				fmt.Fprintf(w, "  test %-7s not run: %s\n", t, why)
			}
		}
	}
	if len(rep.Extras) > 0 {
		fmt.Fprintln(w, "\nOther figures:")
		for _, x := range rep.Extras {
			if x.Missing != "" {
				fmt.Fprintf(w, "  %-44s not available: %s\n", x.Name, x.Missing)
				continue
			}
			line := fmt.Sprintf("  %-44s %10s %s", x.Name, num(x.Value), x.Unit)
			if x.Ratio != 0 {
				line += fmt.Sprintf("  (%s %s)", ratio(x.Ratio), x.Versus)
			}
			if x.Note != "" {
				line += "  " + x.Note
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, "\nTargets for tlsgate (ratios in this run; go-httputil shown as the plain standard-library reference):")
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "  %-62s %s\n", t.Target, t.Verdict)
	}
	if rep.Mode == "smoke" {
		fmt.Fprintln(w, "\nSmoke mode: one short repetition each; the figures prove the harness works and mean little.")
	}
}
