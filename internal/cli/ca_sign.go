package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

func init() { caSubcommands = append(caSubcommands, newCASignCommand, newCARenewCommand) }

func newCASignCommand(g *Globals, f *caFlags) *cobra.Command {
	var csrFile, profile, validity, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "sign --csr FILE --profile server|client|peer",
		Short: "Sign a certificate signing request after checking it against the CA's policy",
		Long: `tlsgate ca sign checks the CSR's signature, its key type and size (RSA at
least 2048 bits, ECDSA P-256/P-384, Ed25519) and its names against the CA's
policy and name constraints, then issues a certificate for its key. Names come
from the CSR; other subject fields are not copied.`,
		Example: `  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -subj /CN=api.internal -addext subjectAltName=DNS:api.internal -out api.csr
  tlsgate ca sign --csr api.csr --profile server --out cert.pem`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := pki.ParseProfile(profile)
			if err != nil {
				return UsageError(fmt.Errorf("--profile: %w", err))
			}
			o := pki.SignOptions{Profile: p}
			if validity != "" {
				if o.Validity, err = pki.ParseDuration(validity); err != nil {
					return UsageError(fmt.Errorf("--validity: %w", err))
				}
			}
			data, err := os.ReadFile(csrFile)
			if err != nil {
				return UsageError(fmt.Errorf("--csr: %w", err))
			}
			if _, err := pki.ParseCSR(data); err != nil {
				return UsageError(fmt.Errorf("--csr %s: %w", csrFile, err))
			}
			if out != "-" && !force {
				if _, err := os.Stat(out); err == nil {
					return UsageError(fmt.Errorf("%s already exists: choose another --out or pass --force", out))
				}
			}
			ca, err := f.openCA(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			is, err := ca.SignCSR(cmd.Context(), data, o)
			if err != nil {
				return caError(fmt.Errorf("--csr %s: %w", csrFile, err))
			}
			if out == "-" {
				_, err = g.Stdout.Write(is.ChainPEM)
				return err
			}
			if err := caWriteNew(out, is.ChainPEM, 0o644, force); err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "signed %s certificate serial %s, valid until %s\ncertificate: %s (leaf + intermediate)\n",
				p, is.Serial, is.Leaf.NotAfter.UTC().Format("2006-01-02 15:04:05Z"), caAbs(out))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&csrFile, "csr", "", "PEM certificate signing request (required)")
	fl.StringVar(&profile, "profile", "", "certificate profile: server, client or peer (required)")
	fl.StringVar(&validity, "validity", "", "lifetime, e.g. 90d (default), 24h; at most 398d")
	fl.StringVar(&out, "out", "-", "file for the certificate chain (leaf + intermediate); - prints it")
	fl.BoolVar(&force, "force", false, "overwrite --out if it exists")
	cmd.MarkFlagRequired("csr")
	cmd.MarkFlagRequired("profile")
	return cmd
}

func newCARenewCommand(g *Globals, f *caFlags) *cobra.Command {
	var certFile, keyFile, validity, out, keyType string
	var rekey bool
	cmd := &cobra.Command{
		Use:   "renew --cert FILE [--key FILE | --rekey]",
		Short: "Issue the successor of a certificate: same profile and names, same or new key",
		Long: `tlsgate ca renew issues a new certificate with the profile, names and lifetime
of the one in --cert. Without --rekey it certifies the same public key (--key
proves you hold it); with --rekey it generates a new key. The new cert.pem
(and key.pem with --rekey) replace the files in --out, by default the
directory of --cert.`,
		Example: `  tlsgate ca renew --cert api/cert.pem
  tlsgate ca renew --cert api/cert.pem --rekey`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rekey && keyFile != "" {
				return UsageError(fmt.Errorf("--key and --rekey exclude each other: keep the key or replace it"))
			}
			old, err := caReadCertFile(certFile)
			if err != nil {
				return err
			}
			o := pki.RenewOptions{Rekey: rekey}
			if validity != "" {
				if o.Validity, err = pki.ParseDuration(validity); err != nil {
					return UsageError(fmt.Errorf("--validity: %w", err))
				}
			}
			if keyType != "" {
				if o.KeyType, err = pki.ParseKeyType(keyType); err != nil {
					return UsageError(fmt.Errorf("--key-type: %w", err))
				}
			}
			if keyFile != "" {
				data, err := os.ReadFile(keyFile)
				if err != nil {
					return UsageError(fmt.Errorf("--key: %w", err))
				}
				if o.Key, err = pki.ParseKey(data, nil); err != nil {
					return UsageError(fmt.Errorf("--key %s: %w", keyFile, err))
				}
			}
			if out == "" {
				out = filepath.Dir(certFile)
			}
			ca, err := f.openCA(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			is, err := ca.Renew(cmd.Context(), old, o)
			if err != nil {
				return caError(err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if is.KeyPEM != nil {
				if err := caWriteNew(filepath.Join(out, "key.pem"), is.KeyPEM, 0o600, true); err != nil {
					return err
				}
			}
			if err := caWriteNew(filepath.Join(out, "cert.pem"), is.ChainPEM, 0o644, true); err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "renewed serial %s as %s, valid until %s\ncertificate: %s\n", pki.SerialString(old.SerialNumber), is.Serial,
				is.Leaf.NotAfter.UTC().Format("2006-01-02 15:04:05Z"), caAbs(filepath.Join(out, "cert.pem")))
			if is.KeyPEM != nil {
				fmt.Fprintf(g.Stdout, "new key:     %s\n", caAbs(filepath.Join(out, "key.pem")))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&certFile, "cert", "", "PEM certificate to renew (required)")
	fl.StringVar(&keyFile, "key", "", "its private key, to prove possession and keep it")
	fl.BoolVar(&rekey, "rekey", false, "generate a new key instead of certifying the old one")
	fl.StringVar(&keyType, "key-type", "", "with --rekey: key type (default the old key's type)")
	fl.StringVar(&validity, "validity", "", "lifetime (default the old certificate's)")
	fl.StringVar(&out, "out", "", "directory for cert.pem (and key.pem); default the directory of --cert")
	cmd.MarkFlagRequired("cert")
	return cmd
}
