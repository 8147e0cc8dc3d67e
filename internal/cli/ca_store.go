package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/pki"
)

// addStoreFlag adds --store to `tlsgate ca` and all its subcommands.
func (f *caFlags) addStoreFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.store, "store", "", "where the CA keeps its records: the path of an SQLite file, or a postgres:// URL that several instances share (default $TLSGATE_STORE, else the store ca init was given, else <home>/ca/ca.db)")
}

// storeTarget returns --store, else $TLSGATE_STORE; empty leaves the choice
// to the CA directory. A URL that names no store tlsgate has is a usage
// error here rather than a failure to open later.
func (f *caFlags) storeTarget() (string, error) {
	if f.store != "" {
		return checkStoreTarget(f.store, "--store")
	}
	return envStoreTarget()
}

// envStoreTarget returns $TLSGATE_STORE, checked like --store.
func envStoreTarget() (string, error) {
	return checkStoreTarget(os.Getenv("TLSGATE_STORE"), "$TLSGATE_STORE")
}

func checkStoreTarget(target, from string) (string, error) {
	scheme, _, isURL := strings.Cut(target, "://")
	if isURL && !strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql") {
		return "", UsageError(fmt.Errorf("%s %s://...: unknown kind of store; give a postgres:// or postgresql:// URL, or the path of an SQLite file", from, scheme))
	}
	return target, nil
}

// openLocalCA opens the CA in the data directory for serve and tunnel,
// creating it when there is none: the passphrase from
// $TLSGATE_CA_PASSPHRASE, the store from $TLSGATE_STORE (else the one the
// CA recorded), as the ca commands read them. A CA it creates names
// publicURL as where its revocation status is published.
func openLocalCA(ctx context.Context, g *Globals, publicURL string) (*pki.CA, error) {
	home, err := g.Home()
	if err != nil {
		return nil, err
	}
	store, err := envStoreTarget()
	if err != nil {
		return nil, err
	}
	var pass []byte
	if p := os.Getenv("TLSGATE_CA_PASSPHRASE"); p != "" {
		pass = []byte(p)
	}
	existed := pki.Exists(home)
	ca, err := pki.InitIfMissing(ctx, home, pki.InitOptions{Passphrase: pass, PublicURL: publicURL, Store: store})
	if err != nil {
		return nil, fmt.Errorf("local CA in %s: %w", pki.Dir(home), err)
	}
	if !existed {
		attrs := []any{"dir", pki.Dir(home), "root_sha256", ca.RootFingerprint()}
		if publicURL != "" {
			attrs = append(attrs, "published_at", publicURL)
		}
		g.Logger.Info("created the local CA", attrs...)
	}
	return ca, nil
}
