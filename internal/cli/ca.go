package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

func init() { register(newCACommand) }

// caFlags are shared by every ca subcommand.
type caFlags struct {
	passphraseFile string
	store          string
}

// caSubcommands lists the constructors of `tlsgate ca` subcommands; each
// ca_*.go file adds its own.
var caSubcommands []func(*Globals, *caFlags) *cobra.Command

func newCACommand(g *Globals) *cobra.Command {
	f := &caFlags{}
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Private certificate authority: issue, renew, revoke, CRL, OCSP",
		Long: `tlsgate ca runs a private certificate authority in the data directory:
a root that signs only the intermediate, an intermediate that issues server,
client and peer certificates, revocation published as CRL and OCSP.

Private keys are files of mode 0600; with --passphrase-file or
$TLSGATE_CA_PASSPHRASE they are encrypted at rest (scrypt + AES-256-GCM).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&f.passphraseFile, "passphrase-file", "", "file holding the passphrase of the CA keys (default $TLSGATE_CA_PASSPHRASE)")
	f.addStoreFlag(cmd)
	for _, sub := range caSubcommands {
		cmd.AddCommand(sub(g, f))
	}
	return cmd
}

// passphrase reads --passphrase-file, else $TLSGATE_CA_PASSPHRASE; nil when
// neither is set.
func (f *caFlags) passphrase() ([]byte, error) {
	if f.passphraseFile != "" {
		b, err := os.ReadFile(f.passphraseFile)
		if err != nil {
			return nil, UsageError(fmt.Errorf("--passphrase-file: %w", err))
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return nil, UsageError(fmt.Errorf("--passphrase-file %s is empty", f.passphraseFile))
		}
		return []byte(p), nil
	}
	if p := os.Getenv("TLSGATE_CA_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return nil, nil
}

// openCAReadOnly opens the CA without its keys: no passphrase needed.
func (f *caFlags) openCAReadOnly(ctx context.Context, g *Globals) (*pki.CA, error) {
	home, err := g.Home()
	if err != nil {
		return nil, err
	}
	st, err := f.storeTarget()
	if err != nil {
		return nil, err
	}
	ca, err := pki.Open(ctx, home, pki.Options{WithoutKeys: true, Store: st})
	if err != nil {
		return nil, caError(err)
	}
	return ca, nil
}

// openCA opens the CA in the data directory with the passphrase flags.
func (f *caFlags) openCA(ctx context.Context, g *Globals) (*pki.CA, error) {
	home, err := g.Home()
	if err != nil {
		return nil, err
	}
	pass, err := f.passphrase()
	if err != nil {
		return nil, err
	}
	st, err := f.storeTarget()
	if err != nil {
		return nil, err
	}
	ca, err := pki.Open(ctx, home, pki.Options{Passphrase: pass, Store: st})
	if err != nil {
		return nil, caError(err)
	}
	return ca, nil
}

// caError gives pki and store errors their exit code: what the user asked
// for was wrong (exit 2) or something failed (exit 1).
func caError(err error) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	for _, usage := range []error{pki.ErrPolicy, pki.ErrBadOption, pki.ErrUnknownSerial, pki.ErrNotInitialized, pki.ErrExists, pki.ErrForeignStore} {
		if errors.Is(err, usage) {
			return UsageError(err)
		}
	}
	return err
}

// caSplitList splits repeated, comma-separated flag values.
func caSplitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func caParseIPs(flag string, vals []string) ([]net.IP, error) {
	var out []net.IP
	for _, v := range caSplitList(vals) {
		ip := net.ParseIP(v)
		if ip == nil {
			return nil, UsageError(fmt.Errorf("%s %q is not an IP address", flag, v))
		}
		out = append(out, ip)
	}
	return out, nil
}

// caWriteNew writes data to path, refusing to overwrite an existing file
// unless force is set; a replacement goes through a temporary file and a
// rename so that a crash never leaves half a certificate or key.
func caWriteNew(path string, data []byte, mode os.FileMode, force bool) error {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return UsageError(fmt.Errorf("%s already exists: choose another --out directory or pass --force", path))
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !force {
		// Link fails if the name appeared meanwhile: never clobber.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, os.ErrExist) {
				return UsageError(fmt.Errorf("%s already exists: choose another --out directory or pass --force", path))
			}
			return err
		}
		return nil
	}
	return os.Rename(tmp.Name(), path)
}

func caAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
