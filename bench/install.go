package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// tools maps each program the harness runs to the Debian package that ships it.
type tool struct{ program, pkg string }

// extraTools are needed only by some options (perf for --perf).
var extraTools []tool

var tools = []tool{
	{"nginx", "nginx"},
	{"haproxy", "haproxy"},
	{"caddy", "caddy"},
	{"wrk", "wrk"},
	{"h2load", "nghttp2-client"},
	{"openssl", "openssl"},
	{"taskset", "util-linux"},
	{"getconf", "libc-bin"},
}

// ensureTools installs the Debian packages of missing programs when running
// as root with apt-get, refreshing the package lists once if the first
// attempt fails. It returns the programs still missing afterwards.
func ensureTools(install bool, logf func(string, ...any)) []string {
	var missing []string
	var pkgs []string
	tools := append(tools, extraTools...)
	for _, t := range tools {
		if _, err := exec.LookPath(t.program); err != nil {
			missing = append(missing, t.program)
			pkgs = append(pkgs, t.pkg)
		}
	}
	if len(missing) == 0 || !install {
		return missing
	}
	if os.Geteuid() != 0 {
		logf("missing %s: install the Debian packages %s (as root: apt-get install -y %s)",
			strings.Join(missing, ", "), strings.Join(pkgs, " "), strings.Join(pkgs, " "))
		return missing
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		logf("missing %s and no apt-get to install %s", strings.Join(missing, ", "), strings.Join(pkgs, " "))
		return missing
	}
	logf("installing Debian packages: %s", strings.Join(pkgs, " "))
	aptInstall := func() error {
		cmd := exec.Command("apt-get", append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, tail2(string(out)))
		}
		return nil
	}
	if err := aptInstall(); err != nil {
		logf("apt-get install failed (%v); refreshing package lists", err)
		if out, err := exec.Command("apt-get", "update").CombinedOutput(); err != nil {
			logf("apt-get update: %v: %s", err, tail2(string(out)))
		}
		if err := aptInstall(); err != nil {
			logf("apt-get install failed again: %v", err)
		}
	}
	missing = missing[:0]
	for _, t := range tools {
		if _, err := exec.LookPath(t.program); err != nil {
			missing = append(missing, t.program)
		}
	}
	return missing
}

func tail2(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 2 {
		lines = lines[len(lines)-2:]
	}
	return strings.Join(lines, " / ")
}
