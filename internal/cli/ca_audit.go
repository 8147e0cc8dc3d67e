package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func init() { caSubcommands = append(caSubcommands, newCAAuditCommand) }

func newCAAuditCommand(g *Globals, f *caFlags) *cobra.Command {
	var asJSON bool
	var after int64
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Print the CA's append-only audit log: who issued, renewed, revoked what, when",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := f.openCAReadOnly(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			evs, err := ca.Store().Events(cmd.Context(), after, 0)
			if err != nil {
				return err
			}
			if asJSON {
				type entry struct {
					Seq    int64     `json:"seq"`
					Time   time.Time `json:"time"`
					Actor  string    `json:"actor"`
					Action string    `json:"action"`
					Serial string    `json:"serial,omitempty"`
					Detail string    `json:"detail"`
				}
				list := make([]entry, len(evs))
				for i, e := range evs {
					list[i] = entry{e.Seq, e.Time, e.Actor, e.Action, e.Serial, e.Detail}
				}
				enc := json.NewEncoder(g.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tACTION\tSERIAL\tACTOR\tDETAIL")
			for _, e := range evs {
				sn := e.Serial
				if sn == "" {
					sn = "-"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Action, sn, e.Actor, e.Detail)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().Int64Var(&after, "after", 0, "only entries after this sequence number")
	return cmd
}
