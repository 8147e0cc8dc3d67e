package cli

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

func init() { caSubcommands = append(caSubcommands, newCAInitCommand) }

func newCAInitCommand(g *Globals, f *caFlags) *cobra.Command {
	var name, keyType, publicURL string
	var permitDNS, permitIP []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the root and intermediate CA in the data directory",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			kt, err := pki.ParseKeyType(keyType)
			if err != nil {
				return UsageError(fmt.Errorf("--key-type: %w", err))
			}
			var nets []*net.IPNet
			for _, c := range caSplitList(permitIP) {
				_, n, err := net.ParseCIDR(c)
				if err != nil {
					return UsageError(fmt.Errorf("--permit-ip %q is not a CIDR such as 10.0.0.0/8", c))
				}
				nets = append(nets, n)
			}
			home, err := g.Home()
			if err != nil {
				return err
			}
			pass, err := f.passphrase()
			if err != nil {
				return err
			}
			st, err := f.storeTarget()
			if err != nil {
				return err
			}
			ca, err := pki.Init(cmd.Context(), home, pki.InitOptions{Name: name, KeyType: kt, PermitDNS: caSplitList(permitDNS), PermitIPs: nets, PublicURL: publicURL, Passphrase: pass, Store: st})
			if err != nil {
				return caError(err)
			}
			defer ca.Close()
			enc := "unencrypted (mode 0600)"
			if pass != nil {
				enc = "encrypted with the passphrase"
			}
			fmt.Fprintf(g.Stdout, "created CA %q in %s\nroot:         %s (until %s)\nintermediate: %s\nkeys:         %s\nfingerprint:  %s\n",
				ca.Settings().Name, ca.Dir(), ca.Root().Subject, ca.Root().NotAfter.Format("2006-01-02"), ca.Intermediate().Subject, enc, ca.RootFingerprint())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", `CA name used in the subjects (default "tlsgate local CA")`)
	fl.StringVar(&keyType, "key-type", string(pki.ECDSAP256), "key type of the CA keys: ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096")
	fl.StringSliceVar(&permitDNS, "permit-dns", nil, "name constraint: the intermediate may only issue for these DNS suffixes (comma-separated)")
	fl.StringSliceVar(&permitIP, "permit-ip", nil, "name constraint: the intermediate may only issue for these CIDRs (comma-separated)")
	fl.StringVar(&publicURL, "public-url", "", "base URL of tlsgate ca serve, put into certificates as CRL and OCSP locations")
	return cmd
}
