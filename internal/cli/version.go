package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { register(newVersionCommand) }

// Version is set at link time with -ldflags "-X github.com/tlsgate/tlsgate/internal/cli.Version=v1.2.3";
// otherwise it comes from the module build info.
var Version = ""

// BuildInfo describes this binary.
type BuildInfo struct {
	Version   string
	Commit    string
	Modified  bool
	GoVersion string
}

// ReadBuildInfo reads version, commit and Go version from the build info.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: Version, Commit: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "(devel)"
		}
		return b
	}
	b.GoVersion = info.GoVersion
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func newVersionCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tlsgate's version, commit and Go version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			b := ReadBuildInfo()
			commit := b.Commit
			if b.Modified {
				commit += " (modified)"
			}
			fmt.Fprintf(g.Stdout, "tlsgate %s\ncommit  %s\ngo      %s\n", b.Version, commit, b.GoVersion)
			return nil
		},
	}
}
