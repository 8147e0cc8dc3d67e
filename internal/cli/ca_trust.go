package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

func init() {
	caSubcommands = append(caSubcommands, newCAExportRootCommand, newCABootstrapCommand, newCATrustCommand(true), newCATrustCommand(false))
}

func newCAExportRootCommand(g *Globals, f *caFlags) *cobra.Command {
	var fingerprint, intermediate bool
	cmd := &cobra.Command{
		Use:   "export-root",
		Short: "Print the root certificate in PEM, what clients must trust",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fingerprint && intermediate {
				return UsageError(fmt.Errorf("--fingerprint and --intermediate exclude each other"))
			}
			ca, err := f.openCAReadOnly(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			switch {
			case fingerprint:
				_, err = fmt.Fprintln(g.Stdout, ca.RootFingerprint())
			case intermediate:
				_, err = g.Stdout.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Intermediate().Raw}))
			default:
				_, err = g.Stdout.Write(ca.RootPEM())
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&fingerprint, "fingerprint", false, "print only the root's SHA-256 fingerprint (for ca bootstrap)")
	cmd.Flags().BoolVar(&intermediate, "intermediate", false, "print the intermediate (issuing) certificate instead")
	return cmd
}

func newCABootstrapCommand(g *Globals, f *caFlags) *cobra.Command {
	var url, fingerprint, out string
	cmd := &cobra.Command{
		Use:   "bootstrap --url URL --fingerprint SHA256",
		Short: "Fetch a CA's root from tlsgate ca serve and keep it if the fingerprint matches",
		Long: `tlsgate ca bootstrap downloads the root from URL/root/{fingerprint} and accepts it
only if its SHA-256 fingerprint (shown by tlsgate ca init and ca serve, and
passed to you out of band) matches. It saves it under <home>/roots/ or --out.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := pki.NormalizeFingerprint(fingerprint); err != nil {
				return UsageError(fmt.Errorf("--fingerprint: %w", err))
			}
			pemBytes, root, err := pki.Bootstrap(cmd.Context(), url, fingerprint)
			if errors.Is(err, pki.ErrFingerprintMismatch) {
				return CheckFailed(err)
			}
			if err != nil {
				return err
			}
			path := out
			if path == "" {
				home, err := g.Home()
				if err != nil {
					return err
				}
				if path, err = pki.SaveBootstrappedRoot(home, root); err != nil {
					return err
				}
			} else if err := os.WriteFile(path, pemBytes, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "root %q verified (SHA-256 %s)\nsaved to %s\n", root.Subject.String(), pki.Fingerprint(root), caAbs(path))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "", "base URL of tlsgate ca serve, e.g. http://ca.internal:8889 (required)")
	fl.StringVar(&fingerprint, "fingerprint", "", "expected SHA-256 fingerprint of the root, hex (required)")
	fl.StringVar(&out, "out", "", "file to save the root PEM to (default <home>/roots/<fingerprint>.pem)")
	cmd.MarkFlagRequired("url")
	cmd.MarkFlagRequired("fingerprint")
	return cmd
}

// newCATrustCommand builds `ca trust` (install) or `ca untrust` (remove).
func newCATrustCommand(install bool) func(*Globals, *caFlags) *cobra.Command {
	return func(g *Globals, f *caFlags) *cobra.Command {
		var dryRun bool
		var rootFile string
		use, short := "trust", "Install the root into the system trust store (Debian: update-ca-certificates)"
		if !install {
			use, short = "untrust", "Remove the root that ca trust installed from the system trust store"
		}
		cmd := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				var root *x509.Certificate
				if rootFile != "" {
					c, err := caReadCertFile(rootFile)
					if err != nil {
						return err
					}
					root = c
				} else {
					ca, err := f.openCAReadOnly(cmd.Context(), g)
					if err != nil {
						return err
					}
					root = ca.Root()
					ca.Close()
				}
				st := pki.SystemTrust{DryRun: dryRun}
				if !dryRun && os.Geteuid() != 0 {
					return fmt.Errorf("changing the system trust store needs root: run sudo tlsgate ca %s, or add --dry-run to see what it would do", use)
				}
				do := st.Trust
				if !install {
					do = st.Untrust
				}
				acts, err := do(cmd.Context(), root)
				verb := "did"
				if dryRun {
					verb = "would"
				}
				for _, a := range acts {
					fmt.Fprintf(g.Stdout, "%s %s\n", verb, a)
				}
				if err != nil {
					return err
				}
				if install && !dryRun {
					fmt.Fprintf(g.Stdout, "root %q (SHA-256 %s) is now trusted system-wide; Firefox and Java keep their own stores\n", root.Subject.String(), pki.Fingerprint(root))
				}
				return nil
			},
		}
		cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be done, change nothing")
		cmd.Flags().StringVar(&rootFile, "root", "", "root PEM to use instead of this CA's (e.g. one saved by ca bootstrap)")
		return cmd
	}
}
