package cli

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/scan"
)

func init() { register(newScanCommand) }

type scanFlags struct {
	targetsFile string
	json        bool
	html        string
	minGrade    string
	rate        float64
	timeout     time.Duration
	concurrency int
	parallel    int
	caFile      string
	sni         string
	httpPort    int
	progress    string
}

func newScanCommand(g *Globals) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [flags] HOST[:PORT]...",
		Short: "Audit a server's TLS and grade it (SSL Labs rating guide)",
		Long: `scan probes each target's TLS the way an attacker would: every protocol
version from SSL 2.0 to TLS 1.3, every cipher suite of the IANA registry,
key-exchange groups, certificate, HSTS and known vulnerabilities. It grades the
result per the SSL Labs SSL Server Rating Guide and says what to change to
reach A+.

Targets are host, host:port (default port 443) or https:// URLs. Several
targets are scanned concurrently.`,
		Example: `  tlsgate scan example.com
  tlsgate scan --json api.internal:8443 > scan.json
  tlsgate scan --min-grade A --html report.html example.com
  tlsgate scan --targets hosts.txt --rate 20`,
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd, g, &f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.targetsFile, "targets", "", "read targets from `FILE`, one per line (# comments)")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON (schema in docs/scan.md)")
	fl.StringVar(&f.html, "html", "", "also write a self-contained HTML report to `FILE`")
	fl.StringVar(&f.minGrade, "min-grade", "", "exit 3 when a target grades below `GRADE` (A+, A, A-, B, C, D, E, F)")
	fl.Float64Var(&f.rate, "rate", 50, "at most `N` new connections per second, all targets together (0: no limit)")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "timeout for each connection")
	fl.IntVar(&f.concurrency, "concurrency", 16, "connections open at once per target")
	fl.IntVar(&f.parallel, "parallel", 4, "targets scanned at once")
	fl.StringVar(&f.caFile, "ca", "", "trust the CA certificates in PEM `FILE` instead of the system roots")
	fl.StringVar(&f.sni, "sni", "", "server name to send and to match the certificate against (default: the target host)")
	fl.IntVar(&f.httpPort, "http-port", 80, "plain-HTTP `PORT` checked for a redirect to HTTPS (0: skip)")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	return cmd
}

func runScan(cmd *cobra.Command, g *Globals, f *scanFlags, args []string) error {
	var targets []scan.Target
	for _, a := range args {
		t, err := scan.ParseTarget(a)
		if err != nil {
			return UsageError(err)
		}
		targets = append(targets, t)
	}
	if f.targetsFile != "" {
		fh, err := os.Open(f.targetsFile)
		if err != nil {
			return UsageError(fmt.Errorf("--targets: %w", err))
		}
		ts, err := scan.ReadTargets(fh, f.targetsFile)
		fh.Close()
		if err != nil {
			return UsageError(fmt.Errorf("--targets: %w", err))
		}
		targets = append(targets, ts...)
	}
	if len(targets) == 0 {
		return UsageError(fmt.Errorf("no target: give HOST[:PORT] arguments or --targets FILE\nRun '%s --help' for usage.", cmd.CommandPath()))
	}
	if f.minGrade != "" && !scan.ValidGrade(f.minGrade) {
		return UsageError(fmt.Errorf("--min-grade %q: not a grade; use one of A+, A, A-, B, C, D, E, F", f.minGrade))
	}
	switch {
	case f.rate < 0:
		return UsageError(fmt.Errorf("--rate %v: must be 0 (no limit) or more", f.rate))
	case f.timeout <= 0:
		return UsageError(fmt.Errorf("--timeout %v: must be positive, e.g. 5s", f.timeout))
	case f.concurrency < 1 || f.concurrency > 256:
		return UsageError(fmt.Errorf("--concurrency %d: must be from 1 to 256", f.concurrency))
	case f.parallel < 1 || f.parallel > 256:
		return UsageError(fmt.Errorf("--parallel %d: must be from 1 to 256", f.parallel))
	case f.httpPort < 0 || f.httpPort > 65535:
		return UsageError(fmt.Errorf("--http-port %d: must be from 0 (skip) to 65535", f.httpPort))
	}
	opts := scan.Options{
		Timeout: f.timeout, Concurrency: f.concurrency, Rate: f.rate, Parallel: f.parallel,
		ServerName: f.sni, HTTPPort: f.httpPort, Logger: g.Logger,
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return UsageError(fmt.Errorf("--ca: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return UsageError(fmt.Errorf("--ca %s: no PEM certificate found; give a file with -----BEGIN CERTIFICATE----- blocks", f.caFile))
		}
		opts.Roots = pool
	}
	bar, err := newProgressBar(g, f.progress, len(targets))
	if err != nil {
		return err
	}
	opts.Progress = bar.update

	results := scan.NewScanner(opts).ScanAll(cmd.Context(), targets)
	bar.finish()

	if f.json {
		doc := scan.Document{SchemaVersion: scan.SchemaVersion, Tool: "tlsgate " + ReadBuildInfo().Version, Results: results}
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(g.Stdout)
			}
			if err := scan.WriteText(g.Stdout, r); err != nil {
				return err
			}
		}
		if len(results) > 1 {
			fmt.Fprintln(g.Stdout)
			if err := scan.WriteSummary(g.Stdout, results); err != nil {
				return err
			}
		}
	}
	if f.html != "" {
		if err := writeHTMLReport(f.html, results); err != nil {
			return err
		}
	}

	var failed []string
	for _, r := range results {
		if r.Error != "" && r.Rating == nil {
			failed = append(failed, r.Error)
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "\n"))
	}
	if f.minGrade != "" {
		var below []string
		for _, r := range results {
			if r.Rating == nil || !scan.AtLeast(r.Rating.Grade, f.minGrade) {
				grade := "no grade"
				if r.Rating != nil {
					grade = r.Rating.Grade
				}
				below = append(below, fmt.Sprintf("%s graded %s, below --min-grade %s", r.Target, grade, f.minGrade))
			}
		}
		if len(below) > 0 {
			return CheckFailed(fmt.Errorf("%s; see the \"To reach A+\" list for what to change", strings.Join(below, "; ")))
		}
	}
	return nil
}

func writeHTMLReport(path string, results []*scan.Result) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := scan.WriteHTML(fh, results); err != nil {
		fh.Close()
		return fmt.Errorf("--html %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("--html %s: %w", path, err)
	}
	return nil
}

// progressBar draws one line on stderr while targets are probed.
type progressBar struct {
	g       *Globals
	on      bool
	mu      sync.Mutex
	targets int
	steps   map[string][2]int
}

func newProgressBar(g *Globals, mode string, targets int) (*progressBar, error) {
	b := &progressBar{g: g, targets: targets, steps: map[string][2]int{}}
	switch mode {
	case "auto":
		b.on = isTerminal(g.Stderr)
	case "always":
		b.on = true
	case "never":
	default:
		return nil, UsageError(fmt.Errorf("--progress %q: expected auto, always or never", mode))
	}
	return b, nil
}

func (b *progressBar) update(p scan.Progress) {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.steps[p.Target] = [2]int{p.Done, p.Total}
	done, total := 0, 0
	for _, s := range b.steps {
		done, total = done+s[0], total+s[1]
	}
	// Targets not started yet count as much as an average started one.
	if n := len(b.steps); n < b.targets && n > 0 {
		total += (b.targets - n) * total / n
	}
	const width = 30
	fill := 0
	if total > 0 {
		fill = width * done / total
	}
	fmt.Fprintf(b.g.Stderr, "\r[%s%s] %3d%% %s: %-24s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*done/max(total, 1), p.Target, p.Step)
}

func (b *progressBar) finish() {
	if b.on {
		fmt.Fprintf(b.g.Stderr, "\r%s\r", strings.Repeat(" ", 100))
	}
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
