package scan

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options tune a scan. The zero value is usable: Defaults fills it in.
type Options struct {
	// Timeout bounds each connection: connect, write, read.
	Timeout time.Duration
	// Concurrency is how many connections one target may have open at once.
	Concurrency int
	// Rate is how many new connections per second a whole run may open
	// (all targets together); 0 means no limit.
	Rate float64
	// Parallel is how many targets are scanned at once.
	Parallel int
	// Roots verifies the certificate; nil means the system roots.
	Roots *x509.CertPool
	// ServerName overrides the SNI and the name the certificate must match.
	ServerName string
	// HTTPPort is the plain-HTTP port checked for a redirect to HTTPS;
	// 0 skips the check.
	HTTPPort int
	// Progress, when set, is called as probes finish.
	Progress func(p Progress)
	Logger   *slog.Logger
	// Now returns the current time (tests fix it).
	Now func() time.Time
}

// Progress reports how far the scan of one target is.
type Progress struct {
	Target string
	Done   int
	Total  int
	Step   string
}

// Defaults returns o with unset fields filled in.
func (o Options) Defaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Scanner runs scans with one set of options and one shared connection rate.
type Scanner struct {
	opts    Options
	limiter *rate.Limiter
}

// NewScanner returns a Scanner; all scans it runs share the --rate budget.
func NewScanner(o Options) *Scanner {
	o = o.Defaults()
	s := &Scanner{opts: o}
	if o.Rate > 0 {
		burst := int(o.Rate)
		if burst < 1 {
			burst = 1
		}
		s.limiter = rate.NewLimiter(rate.Limit(o.Rate), burst)
	}
	return s
}

// ScanAll scans every target, Parallel at a time, and returns the results
// in the order of targets.
func (s *Scanner) ScanAll(ctx context.Context, targets []Target) []*Result {
	out := make([]*Result, len(targets))
	sem := make(chan struct{}, s.opts.Parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = failed(t, s.opts.Now(), ctx.Err())
				return
			}
			defer func() { <-sem }()
			out[i] = s.Scan(ctx, t)
		}()
	}
	wg.Wait()
	return out
}

func failed(t Target, now time.Time, err error) *Result {
	return &Result{SchemaVersion: SchemaVersion, Target: t.Input, Host: t.Host, Port: t.Port, StartedAt: now.UTC(), Error: err.Error(), Protocols: []ProtocolResult{}, Vulnerabilities: []Vulnerability{}}
}

// run is the state of one target's scan, shared by its probes.
type run struct {
	s      *Scanner
	t      Target
	addr   string // ip:port every probe connects to
	sni    string
	budget *connBudget

	mu              sync.Mutex
	r               *Result
	rawCerts        [][]byte // a chain seen in a cleartext handshake
	rawCertsVersion uint16
	done            int
	total           int
}

func (rn *run) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rn.s.opts.Logger.Debug("scan probe", "target", rn.t.Input, "note", msg)
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.r.Notes = append(rn.r.Notes, msg)
}

func (rn *run) update(f func(r *Result)) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	f(rn.r)
}

// step is one probe of a phase: it runs concurrently with its siblings.
type step struct {
	name string
	fn   func(ctx context.Context, rn *run)
}

func (rn *run) phase(ctx context.Context, steps []step) {
	var wg sync.WaitGroup
	for _, st := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.fn(ctx, rn)
			rn.mu.Lock()
			rn.done++
			p := Progress{Target: rn.t.Input, Done: rn.done, Total: rn.total, Step: st.name}
			rn.mu.Unlock()
			if f := rn.s.opts.Progress; f != nil {
				f(p)
			}
		}()
	}
	wg.Wait()
}

// Scan audits one target: it resolves the name, runs the probes in phases
// (each phase needs what the one before found), assesses vulnerabilities and
// rates the result.
func (s *Scanner) Scan(ctx context.Context, t Target) *Result {
	start := s.opts.Now()
	r := &Result{SchemaVersion: SchemaVersion, Target: t.Input, Host: t.Host, Port: t.Port, StartedAt: start.UTC(), Protocols: []ProtocolResult{}, Vulnerabilities: []Vulnerability{}}
	finish := func() *Result {
		r.DurationMS = s.opts.Now().Sub(start).Milliseconds()
		return r
	}
	ip, err := s.resolve(ctx, t.Host)
	if err != nil {
		r.Error = err.Error()
		return finish()
	}
	r.Address = net.JoinHostPort(ip, t.Port)
	r.ServerName = s.opts.ServerName
	if r.ServerName == "" && net.ParseIP(t.Host) == nil {
		r.ServerName = t.Host
	}
	rn := &run{s: s, t: t, addr: r.Address, sni: r.ServerName, budget: newConnBudget(s.opts.Concurrency, s.limiter, s.opts.Timeout), r: r}

	// Reachability first: without a TCP connection nothing else can run.
	c, err := rn.budget.dial(ctx, rn.addr)
	if err != nil {
		r.Error = fmt.Sprintf("%s: %v; check the host and port, and that the server is running", t.Input, err)
		return finish()
	}
	c.Close()

	phases := rn.phases()
	for _, p := range phases {
		rn.total += len(p)
	}
	for _, p := range phases {
		if ctx.Err() != nil {
			break
		}
		rn.phase(ctx, p)
	}
	if ctx.Err() != nil {
		r.Error = fmt.Sprintf("%s: scan interrupted: %v", t.Input, ctx.Err())
		return finish()
	}
	if !anySupported(r) {
		r.Error = fmt.Sprintf("%s: no SSL/TLS version was accepted; is this a TLS port?", t.Input)
	}
	sortResult(r)
	Assess(r)
	r.Rating = Rate(r)
	return finish()
}

func anySupported(r *Result) bool {
	for _, p := range r.Protocols {
		if p.Supported {
			return true
		}
	}
	return false
}

func sortResult(r *Result) {
	sort.Slice(r.Protocols, func(i, j int) bool { return r.Protocols[i].Version < r.Protocols[j].Version })
	sort.Strings(r.Notes)
}

func (s *Scanner) resolve(ctx context.Context, host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupHost(rctx, host)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w; check the host name", host, err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("resolve %s: no addresses", host)
	}
	// IPv4 first: it is reachable from more places than IPv6.
	for _, ip := range ips {
		if p := net.ParseIP(ip); p != nil && p.To4() != nil {
			return ip, nil
		}
	}
	return ips[0], nil
}
