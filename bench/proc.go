package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs remembers every process the harness started so that all of them are
// stopped, by process group, on every way out: normal end, error, signal.
type procs struct {
	mu   sync.Mutex
	list []*exec.Cmd
}

// start runs name with args pinned to cpus (taskset list, "" for no pinning).
// The child gets its own process group so that its workers can be stopped
// with it, and dies with the harness if the harness is killed outright.
func (p *procs) start(cpus string, logPath string, env []string, name string, args ...string) (*exec.Cmd, error) {
	if cpus != "" {
		args = append([]string{"-c", cpus, name}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd.Stdout = f
		cmd.Stderr = f
		defer f.Close()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.track(cmd)
	go cmd.Wait() //nolint:errcheck // reaped here; exit status is read from ProcessState when needed
	return cmd, nil
}

// track registers a process started elsewhere so that stopAll ends it too.
func (p *procs) track(cmd *exec.Cmd) {
	p.mu.Lock()
	p.list = append(p.list, cmd)
	p.mu.Unlock()
}

// stop ends one process group we started: SIGTERM, then SIGKILL after grace.
func (p *procs) stop(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(-pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	p.mu.Lock()
	for i, c := range p.list {
		if c == cmd {
			p.list = append(p.list[:i], p.list[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
}

// stopAll stops every process still registered, newest first.
func (p *procs) stopAll() {
	p.mu.Lock()
	list := append([]*exec.Cmd(nil), p.list...)
	p.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		p.stop(list[i])
	}
}

// runCmd runs a short command to completion (load generators), pinned to cpus,
// with a hard timeout, and returns its combined output.
func runCmd(ctx context.Context, timeout time.Duration, cpus string, name string, args ...string) (string, error) {
	return runCmdIn(ctx, "", timeout, cpus, name, args...)
}

// runCmdIn is runCmd in working directory dir.
func runCmdIn(ctx context.Context, dir string, timeout time.Duration, cpus string, name string, args ...string) (string, error) {
	if cpus != "" {
		args = append([]string{"-c", cpus, name}, args...)
		name = "taskset"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Dir = dir
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%s did not finish within %v: %w", name, timeout, ctx.Err())
	}
	return out.String(), err
}

// clockTicks is the kernel's USER_HZ, the unit of utime/stime in /proc.
var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}()

// procStat is what we read from /proc/PID/stat: parent and CPU ticks.
type procStat struct {
	ppid  int
	ticks uint64 // utime + stime
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name may contain spaces and parentheses: fields start
	// after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, errors.New("short stat")
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return procStat{ppid: ppid, ticks: ut + st}, nil
}

// tree returns root and all its descendants (nginx master and workers).
func tree(root int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// cpuSeconds is the CPU time (user+system) spent so far by roots and every
// process below them. Workers that exited during a measurement are lost,
// which none of the servers here does under load.
func cpuSeconds(roots []int) float64 {
	var ticks uint64
	for _, r := range roots {
		for _, pid := range tree(r) {
			if st, err := readStat(pid); err == nil {
				ticks += st.ticks
			}
		}
	}
	return float64(ticks) / clockTicks
}

// rssKiB is the resident set size summed over roots and their descendants.
func rssKiB(roots []int) int64 {
	var total int64
	for _, r := range roots {
		for _, pid := range tree(r) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					total += n
				}
			}
		}
	}
	return total
}

// tail returns the last lines of a log file, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// selfPath is the harness binary, re-run for the upstream and Go clients.
func selfPath() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	p, _ = filepath.EvalSymlinks(p)
	return p
}

// ctxSwitches is the number of context switches, voluntary and not, of
// roots and their descendants, summed over all threads: a count, so a busy
// machine does not skew it the way it skews time.
func ctxSwitches(roots []int) uint64 {
	var n uint64
	for _, r := range roots {
		for _, pid := range tree(r) {
			tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
			for _, t := range tasks {
				b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
				if err != nil {
					continue
				}
				for _, line := range strings.Split(string(b), "\n") {
					name, v, ok := strings.Cut(line, ":")
					if ok && (name == "voluntary_ctxt_switches" || name == "nonvoluntary_ctxt_switches") {
						c, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
						n += c
					}
				}
			}
		}
	}
	return n
}
