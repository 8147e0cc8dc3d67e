// Package cli builds tlsgate's command tree: flags, output and exit codes.
// It stays thin: each command parses its flags, calls the package that does
// the work, and prints the result.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, documented in README.md.
const (
	ExitOK          = 0 // success
	ExitFailure     = 1 // runtime failure: a connection, a file, a store
	ExitUsage       = 2 // bad flags, bad arguments, invalid configuration
	ExitCheckFailed = 3 // a check ran and failed: verification, grade below threshold
)

// ExitError is an error that carries the process exit code it should cause.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks err as a usage or configuration error (exit 2).
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// CheckFailed marks err as a failed check (exit 3).
func CheckFailed(err error) error { return &ExitError{Code: ExitCheckFailed, Err: err} }

// Globals holds what every command shares: where state lives, how to log,
// and where to print.
type Globals struct {
	home      string
	logFormat string
	logLevel  string

	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger
}

// Home returns the data directory: --home, else $TLSGATE_HOME, else
// $XDG_DATA_HOME/tlsgate, else ~/.local/share/tlsgate.
func (g *Globals) Home() (string, error) {
	if g.home != "" {
		return filepath.Abs(g.home)
	}
	if h := os.Getenv("TLSGATE_HOME"); h != "" {
		return filepath.Abs(h)
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "tlsgate"), nil
	}
	hd, err := os.UserHomeDir()
	if err != nil {
		return "", UsageError(fmt.Errorf("cannot find a data directory: %w; pass --home DIR or set TLSGATE_HOME", err))
	}
	return filepath.Join(hd, ".local", "share", "tlsgate"), nil
}

// commandFactories holds one constructor per command file; each file adds
// itself in an init function so that commands never edit a shared list.
var commandFactories []func(*Globals) *cobra.Command

func register(f func(*Globals) *cobra.Command) { commandFactories = append(commandFactories, f) }

// NewRoot builds the whole command tree writing to stdout and stderr.
func NewRoot(stdout, stderr io.Writer) (*cobra.Command, *Globals) {
	g := &Globals{Stdout: stdout, Stderr: stderr}
	root := &cobra.Command{
		Use:   "tlsgate",
		Short: "HTTPS done right for APIs, and TLS made visible",
		Long: `tlsgate makes an API reachable only over HTTPS with verified identity,
and shows and checks the TLS of any endpoint.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			logger, err := newLogger(g.Stderr, g.logFormat, g.logLevel)
			if err != nil {
				return UsageError(err)
			}
			g.Logger = logger
			return nil
		},
		// A bare "tlsgate" prints help; an unknown subcommand is a usage error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SuggestionsMinimumDistance = 2
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", "", "data directory (default $TLSGATE_HOME, else $XDG_DATA_HOME/tlsgate or ~/.local/share/tlsgate)")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return UsageError(fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
	})
	cmds := make([]*cobra.Command, 0, len(commandFactories))
	for _, f := range commandFactories {
		cmds = append(cmds, f(g))
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	for _, c := range cmds {
		root.AddCommand(c)
	}
	return root, g
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return UsageError(fmt.Errorf("%s\nRun '%s --help' for usage.", msg, cmd.CommandPath()))
}

// Main runs tlsgate with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root, _ := NewRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "tlsgate: %v\n", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	// Errors that cobra raises itself before a command runs are usage errors.
	if isCobraUsageError(err) {
		return ExitUsage
	}
	return ExitFailure
}

func isCobraUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "requires exactly", "invalid argument", "flag needs an argument", "required flag", "if any flags in the group"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return UsageError(fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
		}
		return nil
	}
}

// minimumArgs is cobra.MinimumNArgs with a usage exit code.
func minimumArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return UsageError(fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
		}
		return nil
	}
}
