package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tlsgate/tlsgate/internal/cli"
	"github.com/tlsgate/tlsgate/internal/testtool"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tlsgate": func() { os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line scenarios in testdata/script: each
// .txtar file is a shell-like script of tlsgate invocations and the output
// they must produce, the same commands the README shows.
func TestScripts(t *testing.T) {
	// Scripts guard their openssl steps with [exec:openssl]; under CI those
	// steps must run, so the tool must be there.
	testtool.Need(t, "openssl")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("TLSGATE_HOME", env.WorkDir+"/home")
			env.Setenv("CI", os.Getenv("CI"))
			return nil
		},
		Condition: scriptCondition,
		Cmds:      map[string]func(*testscript.TestScript, bool, []string){"exitcode": cmdExitCode},
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
