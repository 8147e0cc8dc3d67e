package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// loadResult is what one load-generator run reports.
type loadResult struct {
	ops     int64   // requests or handshakes completed
	seconds float64 // wall time of the run as the generator measured it
	rate    float64 // ops per second
	mibps   float64 // response bytes per second, MiB
	p50ms   float64 // latency percentiles, when the generator reports them
	p99ms   float64
	errors  int64
	note    string
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)([KMGT]?B) read`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkSockErr  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func durUnit(v float64, unit string) float64 { // to seconds
	switch unit {
	case "us":
		return v / 1e6
	case "ms":
		return v / 1e3
	case "m":
		return v * 60
	}
	return v
}

func byteUnit(v float64, unit string) float64 { // to bytes; wrk counts in 1024s
	switch unit {
	case "KB":
		return v * 1024
	case "MB":
		return v * 1024 * 1024
	case "GB":
		return v * 1024 * 1024 * 1024
	case "TB":
		return v * 1024 * 1024 * 1024 * 1024
	}
	return v
}

// runWrk drives keep-alive HTTP/1.1 over TLS with one wrk thread.
func runWrk(ctx context.Context, cpus, url string, conns int, d time.Duration) (loadResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	out, err := runCmd(ctx, d+30*time.Second, cpus, "wrk", "-t1", "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(secs)+"s", "--timeout", "10s", "--latency", url)
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(out)
}

func parseWrk(out string) (loadResult, error) {
	var r loadResult
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output not understood:\n%s", out)
	}
	r.ops, _ = strconv.ParseInt(m[1], 10, 64)
	v, _ := strconv.ParseFloat(m[2], 64)
	r.seconds = durUnit(v, m[3])
	b, _ := strconv.ParseFloat(m[4], 64)
	if r.seconds > 0 {
		r.mibps = byteUnit(b, m[5]) / r.seconds / (1 << 20)
	}
	if m := wrkRate.FindStringSubmatch(out); m != nil {
		r.rate, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range wrkPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		ms := durUnit(v, m[3]) * 1e3
		if m[1] == "50" {
			r.p50ms = ms
		} else {
			r.p99ms = ms
		}
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.errors += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += n
	}
	return r, nil
}

var (
	h2Finished = regexp.MustCompile(`finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s, ([\d.]+)([KMGT]?B)/s`)
	h2Requests = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
)

// runH2load drives HTTP/2 over TLS: a few connections, many streams each.
func runH2load(ctx context.Context, cpus, url string, conns, streams int, d time.Duration) (loadResult, error) {
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	out, err := runCmd(ctx, d+30*time.Second, cpus, "h2load", "-t1", "-c"+strconv.Itoa(conns),
		"-m"+strconv.Itoa(streams), "-D"+strconv.Itoa(secs), url)
	if err != nil {
		return loadResult{}, fmt.Errorf("h2load: %w\n%s", err, out)
	}
	return parseH2load(out)
}

func parseH2load(out string) (loadResult, error) {
	var r loadResult
	m := h2Finished.FindStringSubmatch(out)
	q := h2Requests.FindStringSubmatch(out)
	if m == nil || q == nil {
		return r, fmt.Errorf("h2load output not understood:\n%s", out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	r.seconds = durUnit(v, m[2])
	r.rate, _ = strconv.ParseFloat(m[3], 64)
	b, _ := strconv.ParseFloat(m[4], 64)
	r.mibps = byteUnit(b, m[5]) / (1 << 20)
	r.ops, _ = strconv.ParseInt(q[4], 10, 64)
	for _, s := range q[5:] {
		n, _ := strconv.ParseInt(s, 10, 64)
		r.errors += n
	}
	if r.ops == 0 {
		return r, fmt.Errorf("h2load completed no request:\n%s", out)
	}
	if r.seconds > 0 {
		r.rate = float64(r.ops) / r.seconds
	}
	return r, nil
}

// runHandshakes drives new-connection-per-request load with the Go client.
func runHandshakes(ctx context.Context, cpus, addr, group string, resume bool, conc int, d time.Duration) (loadResult, error) {
	args := []string{"_handshake", "-addr", addr, "-d", d.String(), "-c", strconv.Itoa(conc), "-group", group}
	if resume {
		args = append(args, "-resume")
	}
	out, err := runCmd(ctx, d+60*time.Second, cpus, selfPath(), args...)
	if err != nil {
		return loadResult{}, fmt.Errorf("handshake client: %w\n%s", err, out)
	}
	var hr handshakeResult
	if err := json.Unmarshal([]byte(lastLine(out)), &hr); err != nil {
		return loadResult{}, fmt.Errorf("handshake client output not understood: %w\n%s", err, out)
	}
	r := loadResult{ops: hr.OK, seconds: hr.Seconds, errors: hr.Errors}
	if hr.Seconds > 0 {
		r.rate = float64(hr.OK) / hr.Seconds
	}
	if hr.OK == 0 {
		return r, fmt.Errorf("no handshake completed: %s", hr.FirstErr)
	}
	if resume {
		r.note = fmt.Sprintf("%.0f%% resumed", 100*float64(hr.Resumed)/float64(hr.OK))
	}
	if hr.FirstErr != "" {
		r.note = strings.TrimSpace(r.note + " first error: " + hr.FirstErr)
	}
	return r, nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
