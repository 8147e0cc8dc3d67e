package cli

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

func init() { caSubcommands = append(caSubcommands, newCARevokeCommand) }

func newCARevokeCommand(g *Globals, f *caFlags) *cobra.Command {
	var reasonText, certFile string
	cmd := &cobra.Command{
		Use:   "revoke SERIAL | --cert FILE",
		Short: "Revoke a certificate; the CRL and OCSP answers change at once",
		Example: `  tlsgate ca revoke 5f3a... --reason keyCompromise
  tlsgate ca revoke --cert api/cert.pem --reason superseded`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1) == (certFile != "") {
				return UsageError(fmt.Errorf("give either a SERIAL or --cert FILE\nRun '%s --help' for usage.", cmd.CommandPath()))
			}
			var serial *big.Int
			if certFile != "" {
				c, err := caReadCertFile(certFile)
				if err != nil {
					return err
				}
				serial = c.SerialNumber
			} else {
				var err error
				if serial, err = pki.ParseSerial(args[0]); err != nil {
					return UsageError(err)
				}
			}
			reason, err := pki.ParseReason(reasonText)
			if err != nil {
				return UsageError(fmt.Errorf("--reason: %w", err))
			}
			ca, err := f.openCAReadOnly(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			if err := ca.Revoke(cmd.Context(), serial, reason); err != nil {
				if errors.Is(err, pki.ErrAlreadyRevoked) {
					return err
				}
				return caError(err)
			}
			fmt.Fprintf(g.Stdout, "revoked %s (%s)\n", pki.SerialString(serial), reason)
			return nil
		},
	}
	cmd.Flags().StringVar(&certFile, "cert", "", "PEM certificate file to revoke instead of giving its serial")
	cmd.Flags().StringVar(&reasonText, "reason", "unspecified", "keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn or unspecified")
	return cmd
}
