package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

func init() { caSubcommands = append(caSubcommands, newCAIssueCommand) }

// caLeafFlags are the names and validity shared by issue and sign.
type caLeafFlags struct {
	profile, cn, validity, keyType, out string
	dns, ips, uris, emails              []string
	force, p12                          bool
	p12PasswordFile                     string
}

func (lf *caLeafFlags) request() (pki.Request, error) {
	p, err := pki.ParseProfile(lf.profile)
	if err != nil {
		return pki.Request{}, UsageError(fmt.Errorf("--profile: %w", err))
	}
	req := pki.Request{Profile: p, CommonName: lf.cn, DNS: caSplitList(lf.dns), URIs: caSplitList(lf.uris), Emails: caSplitList(lf.emails)}
	if req.IPs, err = caParseIPs("--ip", lf.ips); err != nil {
		return req, err
	}
	if lf.validity != "" {
		if req.Validity, err = pki.ParseDuration(lf.validity); err != nil {
			return req, UsageError(fmt.Errorf("--validity: %w", err))
		}
	}
	if lf.keyType != "" {
		if req.KeyType, err = pki.ParseKeyType(lf.keyType); err != nil {
			return req, UsageError(fmt.Errorf("--key-type: %w", err))
		}
	}
	return req, nil
}

func newCAIssueCommand(g *Globals, f *caFlags) *cobra.Command {
	lf := &caLeafFlags{}
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Generate a key and issue a server, client or peer certificate",
		Example: `  tlsgate ca issue --profile server --dns api.internal --ip 10.0.0.5 --out ./api
  tlsgate ca issue --profile client --email alice@example.org --cn alice --p12 --out ./alice`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := lf.request()
			if err != nil {
				return err
			}
			var p12pass string
			if lf.p12 {
				if p12pass, err = caP12Password(lf.p12PasswordFile); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(lf.out, 0o755); err != nil {
				return err
			}
			certPath, keyPath := filepath.Join(lf.out, "cert.pem"), filepath.Join(lf.out, "key.pem")
			if !lf.force {
				for _, p := range []string{certPath, keyPath} {
					if _, err := os.Stat(p); err == nil {
						return UsageError(fmt.Errorf("%s already exists: choose another --out directory or pass --force", p))
					}
				}
			}
			ca, err := f.openCA(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer ca.Close()
			is, err := ca.IssueLeaf(cmd.Context(), req)
			if err != nil {
				return caError(err)
			}
			if err := caWriteNew(keyPath, is.KeyPEM, 0o600, lf.force); err != nil {
				return err
			}
			if err := caWriteNew(certPath, is.ChainPEM, 0o644, lf.force); err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "issued %s certificate serial %s, valid until %s\ncertificate: %s (leaf + intermediate)\nkey:         %s\n",
				req.Profile, is.Serial, is.Leaf.NotAfter.UTC().Format("2006-01-02 15:04:05Z"), caAbs(certPath), caAbs(keyPath))
			if lf.p12 {
				p12Path := filepath.Join(lf.out, "cert.p12")
				if err := caWriteP12(ca, is, p12Path, p12pass, lf.force); err != nil {
					return err
				}
				fmt.Fprintf(g.Stdout, "pkcs12:      %s\n", caAbs(p12Path))
				if lf.p12PasswordFile == "" && os.Getenv("TLSGATE_P12_PASSWORD") == "" {
					fmt.Fprintf(g.Stdout, "pkcs12 password: %s\n", p12pass)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	caAddLeafFlags(cmd, lf)
	fl.StringVar(&lf.keyType, "key-type", string(pki.ECDSAP256), "key type to generate: ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072 or rsa-4096")
	fl.StringVar(&lf.out, "out", ".", "directory to write cert.pem and key.pem into")
	fl.BoolVar(&lf.force, "force", false, "overwrite existing files in --out")
	fl.BoolVar(&lf.p12, "p12", false, "also write cert.p12 (PKCS#12) for browsers and Java")
	fl.StringVar(&lf.p12PasswordFile, "p12-password-file", "", "file holding the PKCS#12 password (default $TLSGATE_P12_PASSWORD, else a random one is printed)")
	return cmd
}

func caAddLeafFlags(cmd *cobra.Command, lf *caLeafFlags) {
	fl := cmd.Flags()
	fl.StringVar(&lf.profile, "profile", "", "certificate profile: server, client or peer (required)")
	fl.StringVar(&lf.cn, "cn", "", "subject common name (optional; for server and peer it must be one of the names)")
	fl.StringVar(&lf.validity, "validity", "", "lifetime, e.g. 90d (default), 24h, 5m; at most 398d")
	fl.StringSliceVar(&lf.dns, "dns", nil, "DNS name (repeatable or comma-separated)")
	fl.StringSliceVar(&lf.ips, "ip", nil, "IP address (repeatable or comma-separated)")
	fl.StringSliceVar(&lf.uris, "uri", nil, "URI, e.g. spiffe://example.org/api (repeatable)")
	fl.StringSliceVar(&lf.emails, "email", nil, "email address (repeatable)")
	cmd.MarkFlagRequired("profile")
}
