package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// startTLSGate builds tlsgate from this module and runs `tlsgate serve` in
// front of the upstream, one process per certificate (as a user would run
// one site), configured like the peers: access log off, no redirect or
// admin listener, long idle timeouts. Until serve can be started that way it
// reports why tlsgate is not measured instead of failing the run.
func startTLSGate(e *env) (*server, error) {
	bin, err := e.tlsgate()
	if err != nil {
		return nil, err
	}
	s := &server{name: "tlsgate", pq: true}
	if out, err := exec.Command(bin, "version").CombinedOutput(); err == nil {
		s.version = strings.TrimSpace(firstLine(string(out)))
	}
	help, err := exec.Command(bin, "serve", "--help").CombinedOutput()
	// An unknown subcommand with --help prints the root help: look for
	// serve's own usage line.
	if err != nil || !serveUsage.Match(help) {
		return nil, notAvailable{"this build has no `tlsgate serve` command yet"}
	}
	useConfig := strings.Contains(string(help), "--config")
	useFlags := strings.Contains(string(help), "--from") && strings.Contains(string(help), "--to") &&
		strings.Contains(string(help), "--cert") && strings.Contains(string(help), "--key")
	if !useConfig && !useFlags {
		return nil, notAvailable{"`tlsgate serve` takes neither --config nor --from/--to/--cert/--key yet"}
	}
	if err := s.allocate(); err != nil {
		return nil, err
	}
	home := filepath.Join(e.dir, "tlsgate-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		addr string
		cert certPair
	}{{s.ecdsaAddr, e.ecdsa}, {s.rsaAddr, e.rsa}} {
		var args []string
		if useConfig {
			path := filepath.Join(e.dir, "tlsgate-"+l.cert.name+".yaml")
			if err := writeFile(path, tlsgateConfig(l.addr, l.cert, e.upstream)); err != nil {
				return nil, err
			}
			if out, err := exec.Command(bin, "--home", home, "config", "validate", path).CombinedOutput(); err != nil {
				return nil, notAvailable{"the harness's tlsgate.yaml does not validate: " + firstLine(string(out))}
			}
			args = []string{"--home", home, "serve", "--config", path}
		} else {
			args = []string{"--home", home, "serve", "--from", l.addr, "--to", "http://" + e.upstream,
				"--cert", l.cert.certFile, "--key", l.cert.keyFile}
		}
		log := filepath.Join(e.dir, "tlsgate-"+l.cert.name+".log")
		cmd, err := e.procs.start(e.serverCPU, log, []string{"TLSGATE_HOME=" + home}, bin, args...)
		if err != nil {
			return s, err
		}
		s.cmds = append(s.cmds, cmd)
		s.logs = append(s.logs, log)
	}
	return s, nil
}

var serveUsage = regexp.MustCompile(`(?m)^\s+tlsgate serve(\s|$)`)

// tlsgateConfig is the serve configuration for one listener and certificate.
func tlsgateConfig(addr string, cert certPair, upstream string) string {
	return fmt.Sprintf(`# tlsgate bench: one site in front of the bench upstream.
listen: %q
http_listen: "off"
admin: "off"
access_log:
  output: "off"
limits:
  read_header_timeout: 300s
  idle_timeout: 300s
  max_connections: -1
sites:
  - hosts: [localhost, 127.0.0.1]
    default: true
    certificate:
      source: files
      cert: %q
      key: %q
    routes:
      - path: /
        upstreams: [%q]
`, addr, cert.certFile, cert.keyFile, "http://"+upstream)
}

// tlsgate builds the tlsgate binary from this checkout once per run.
func (e *env) tlsgate() (string, error) {
	e.buildOnce.Do(func() {
		bin := filepath.Join(e.dir, "tlsgate")
		src := e.repo
		if e.tlsgateRev != "" {
			// A committed revision, exported without touching the checkout.
			src = filepath.Join(e.dir, "tlsgate-src")
			export := exec.Command("sh", "-c", `mkdir -p "$1" && git -C "$2" archive "$3" | tar -x -C "$1"`,
				"sh", src, e.repo, e.tlsgateRev)
			if out, err := export.CombinedOutput(); err != nil {
				e.buildErr = notAvailable{"git archive " + e.tlsgateRev + " failed: " + firstLine(string(out))}
				return
			}
		}
		build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/tlsgate")
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			msg := strings.TrimSpace(string(out))
			if strings.HasPrefix(msg, "#") { // "# package" header: the error is below it
				_, msg, _ = strings.Cut(msg, "\n")
			}
			e.buildErr = notAvailable{"go build ./cmd/tlsgate failed: " + firstLine(msg)}
			return
		}
		e.bin = bin
	})
	return e.bin, e.buildErr
}
