package main

import (
	"fmt"
	"strings"
)

// targetCheck is one performance target for tlsgate and where this run
// puts tlsgate and the plain standard-library proxy against it.
type targetCheck struct {
	Target     string  `json:"target"`
	TLSGate    float64 `json:"tlsgate,omitempty"`
	GoHTTPUtil float64 `json:"go_httputil,omitempty"`
	Met        *bool   `json:"met,omitempty"`
	Verdict    string  `json:"verdict"`
}

type target struct {
	text   string
	test   string
	cpu    bool   // compare server CPU per operation, else the value
	versus string // peer the ratio is taken to
	limit  float64
	atMost bool
}

// targets are the goals tlsgate's serve path is engineered to, as ratios to
// peers measured in the same run.
var targets = []target{
	{"HTTP/1.1 keep-alive: server CPU per request <= 1.5x nginx", "h1", true, "nginx", 1.5, true},
	{"HTTP/2: throughput >= 2x Caddy", "h2", false, "caddy", 2, false},
	{"HTTP/2: server CPU per request <= 1.5x HAProxy", "h2", true, "haproxy", 1.5, true},
	{"full handshake X25519/ECDSA: server CPU <= 1x nginx", "hs-ecdsa", true, "nginx", 1, true},
	{"1 MiB responses: MiB/s >= 1x nginx", "bulk", false, "nginx", 1, false},
	{"memory per idle TLS connection <= 2x nginx", "idle", false, "nginx", 2, true},
}

func (r *benchRun) ratioTo(server, test, versus string, cpu bool) float64 {
	a, b := r.find(server, test), r.find(versus, test)
	if a == nil || b == nil {
		return 0
	}
	if cpu {
		if a.CPU == nil || b.CPU == nil || b.CPU.Median == 0 {
			return 0
		}
		return a.CPU.Median / b.CPU.Median
	}
	if b.Value.Median == 0 {
		return 0
	}
	return a.Value.Median / b.Value.Median
}

func (r *benchRun) targets() []targetCheck {
	var out []targetCheck
	for _, t := range targets {
		c := targetCheck{Target: t.text}
		c.TLSGate = r.ratioTo("tlsgate", t.test, t.versus, t.cpu)
		c.GoHTTPUtil = r.ratioTo("go-httputil", t.test, t.versus, t.cpu)
		var parts []string
		if c.TLSGate != 0 {
			met := c.TLSGate >= t.limit
			if t.atMost {
				met = c.TLSGate <= t.limit
			}
			c.Met = &met
			word := "missed"
			if met {
				word = "met"
			}
			parts = append(parts, fmt.Sprintf("tlsgate %.2fx: %s", c.TLSGate, word))
		} else {
			parts = append(parts, "tlsgate not measured")
		}
		if c.GoHTTPUtil != 0 {
			parts = append(parts, fmt.Sprintf("go-httputil %.2fx", c.GoHTTPUtil))
		}
		c.Verdict = strings.Join(parts, "; ")
		out = append(out, c)
	}
	return out
}
