package main

import (
	"fmt"
	"io"
	"strings"
)

// writeMarkdown writes the run's figures as Markdown tables, ready to paste
// into docs/performance.md.
func (r *benchRun) writeMarkdown(w io.Writer, rep report) {
	fmt.Fprintf(w, "Run of %s UTC, %s mode, %d repetition(s) of %s; %s, %s CPUs, Debian %s, kernel %s; "+
		"server on CPU %s, load on CPU %s; load average at the end %s.\n\n",
		rep.Started.Format("2006-01-02 15:04"), rep.Mode, rep.Reps, rep.Duration, rep.Host["cpu"], rep.Host["cpus"],
		rep.Host["debian"], rep.Host["kernel"], rep.ServerCPUs, rep.ClientCPUs, rep.Host["loadavg_at_end"])
	var vs []string
	for _, s := range allServers {
		if v, ok := rep.Versions[s]; ok {
			vs = append(vs, s+" "+v)
		}
	}
	fmt.Fprintf(w, "Versions: %s.\n\n", strings.Join(vs, ", "))
	fmt.Fprintln(w, "| test | server | median (min-max) | vs nginx | server CPU ms/1k ops (min-max) | vs nginx | p99 ms | context switches/op | note |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, res := range r.results {
		if len(res.Samples) == 0 {
			fmt.Fprintf(w, "| %s | %s | failed: %s | | | | | | |\n", res.Test, res.Server, res.Failure)
			continue
		}
		val := num(res.Value.Median) + " " + res.Unit
		if rg := rangeOf(res.Value); rg != "" {
			val += " (" + rg + ")"
		}
		cpu := "-"
		if res.CPU != nil {
			cpu = num(res.CPU.Median)
			if rg := rangeOf(*res.CPU); rg != "" {
				cpu += " (" + rg + ")"
			}
		}
		p99 := "-"
		if res.P99 != nil {
			p99 = num(res.P99.Median)
		}
		note := res.Samples[len(res.Samples)-1].Note
		if res.Errors > 0 {
			note = strings.TrimSpace(fmt.Sprintf("%s; %d errors", note, res.Errors))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", res.Test, res.Server, val,
			ratio(res.ValueVsNginx), cpu, ratio(res.CPUVsNginx), p99, num(res.CtxSwitches), note)
	}
	if len(rep.Unavailable) > 0 {
		fmt.Fprintln(w)
		for _, s := range allServers {
			if why, ok := rep.Unavailable[s]; ok {
				fmt.Fprintf(w, "- %s: not available: %s\n", s, why)
			}
		}
	}
	if len(rep.Extras) > 0 {
		fmt.Fprintln(w, "\n| other figure | value | note |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, x := range rep.Extras {
			if x.Missing != "" {
				fmt.Fprintf(w, "| %s | not available | %s |\n", x.Name, x.Missing)
				continue
			}
			note := x.Note
			if x.Ratio != 0 {
				note = strings.TrimSpace(fmt.Sprintf("%s %s; %s", ratio(x.Ratio), x.Versus, note))
			}
			fmt.Fprintf(w, "| %s | %s %s | %s |\n", x.Name, num(x.Value), x.Unit, note)
		}
	}
	fmt.Fprintln(w, "\n| target | this run |")
	fmt.Fprintln(w, "|---|---|")
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "| %s | %s |\n", t.Target, t.Verdict)
	}
	if len(r.profileSummaries) > 0 {
		fmt.Fprintln(w, "\nWhere the server CPU went (perf, share of samples):")
		fmt.Fprintf(w, "\n| server | test | syscalls/op | %s |\n", strings.Join(bucketOrder, " | "))
		fmt.Fprintln(w, "|---|---|---|"+strings.Repeat("---|", len(bucketOrder)))
		for _, p := range r.profileSummaries {
			var cells []string
			for _, k := range bucketOrder {
				cells = append(cells, fmt.Sprintf("%.0f%%", p.Buckets[k]))
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", p.Server, p.Test, num(p.SyscallsPerOp), strings.Join(cells, " | "))
		}
	}
}
