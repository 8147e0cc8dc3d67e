package cli

import (
	"github.com/spf13/cobra"
)

func init() {
	caSubcommands = append(caSubcommands, newCAExportRootCommand)
}

func newCAExportRootCommand(g *Globals, f *caFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "export-root",
		Short: "Print the root certificate in PEM, what clients must trust",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := f.openCAReadOnly(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			_, err = g.Stdout.Write(ca.RootPEM())
			return err
		},
	}
}
