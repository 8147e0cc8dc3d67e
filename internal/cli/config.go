package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/config"
)

func init() { register(newConfigCommand) }

func newConfigCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check tlsgate configuration files",
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE...",
		Short: "Validate configuration files and print every error with its line",
		Long: `Validate reads each configuration file strictly and prints "FILE: ok", or
every problem as FILE:LINE:COL: key: what is wrong; expected ...
It exits 0 when all files are valid and 2 when any is not.`,
		Args: minimumArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				if _, err := config.Load(path); err != nil {
					bad++
					var es config.Errors
					if errors.As(err, &es) {
						for _, e := range es {
							fmt.Fprintln(g.Stdout, e.Error())
						}
					} else {
						fmt.Fprintf(g.Stdout, "%s: %v\n", path, err)
					}
					continue
				}
				fmt.Fprintf(g.Stdout, "%s: ok\n", path)
			}
			if bad > 0 {
				return UsageError(fmt.Errorf("%d of %d configuration files are invalid", bad, len(args)))
			}
			return nil
		},
	})
	return cmd
}
