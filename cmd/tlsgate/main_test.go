package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tlsgate": main,
	})
}

// TestScripts runs the command-line scenarios in testdata/script: each
// .txtar file is a shell-like script of tlsgate invocations and the output
// they must produce, the same commands the README shows.
func TestScripts(t *testing.T) {
	// Scripts guard their openssl and curl steps with [exec:...]; under CI
	// those steps must run, so the tools must be there.
	testtool.Need(t, "openssl")
	testtool.Need(t, "curl")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("TLSGATE_HOME", env.WorkDir+"/home")
			env.Setenv("CI", os.Getenv("CI"))
			return nil
		},
		Condition: scriptCondition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exitcode": cmdExitCode,
			"waitport": cmdWaitPort,
		},
	})
}

// cmdExitCode runs "exitcode N program args..." and fails unless the
// program exits with status N; its output is kept for stdout/stderr checks.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdWaitPort runs "waitport HOST:PORT [SECONDS]": it waits until a TCP
// connection to the address succeeds, so a script can use a server it
// started in the background. It fails after SECONDS (default 30).
func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waitport HOST:PORT [SECONDS]")
	}
	limit := 30 * time.Second
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= 0 {
			ts.Fatalf("waitport: %q is not a number of seconds", args[1])
		}
		limit = time.Duration(n) * time.Second
	}
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitport: nothing listens on %s after %v: %v", args[0], limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
