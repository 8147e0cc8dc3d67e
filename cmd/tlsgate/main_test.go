package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tlsgate/tlsgate/internal/cli"
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
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("TLSGATE_HOME", env.WorkDir+"/home")
			env.Setenv("CI", os.Getenv("CI"))
			return nil
		},
		Condition: scriptCondition,
	})
}
