package main

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// startTLSGate builds tlsgate from this module and runs `tlsgate serve` in
// front of the upstream, once per certificate. Until serve can be started
// from flags, it reports why tlsgate is not measured instead of failing.
func startTLSGate(e *env) (*server, error) {
	bin := filepath.Join(e.dir, "tlsgate")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tlsgate")
	build.Dir = e.repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, notAvailable{"go build ./cmd/tlsgate failed: " + firstLine(string(out))}
	}
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(help), "serve") {
		return nil, notAvailable{"this build has no `tlsgate serve` command yet"}
	}
	for _, f := range []string{"--from", "--to"} {
		if !strings.Contains(string(help), f) {
			return nil, notAvailable{"`tlsgate serve` has no " + f + " flag yet"}
		}
	}
	return nil, notAvailable{"`tlsgate serve` flags not wired into the harness yet"}
}
