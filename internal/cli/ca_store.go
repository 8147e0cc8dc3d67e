package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// addStoreFlag adds --store to `tlsgate ca` and all its subcommands.
func (f *caFlags) addStoreFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.store, "store", "", "where the CA keeps its records: the path of an SQLite file, or a postgres:// URL that several instances share (default $TLSGATE_STORE, else the store ca init was given, else <home>/ca/ca.db)")
}

// storeTarget returns --store, else $TLSGATE_STORE; empty leaves the choice
// to the CA directory. A URL that names no store tlsgate has is a usage
// error here rather than a failure to open later.
func (f *caFlags) storeTarget() (string, error) {
	target, from := f.store, "--store"
	if target == "" {
		target, from = os.Getenv("TLSGATE_STORE"), "$TLSGATE_STORE"
	}
	scheme, _, isURL := strings.Cut(target, "://")
	if isURL && !strings.EqualFold(scheme, "postgres") && !strings.EqualFold(scheme, "postgresql") {
		return "", UsageError(fmt.Errorf("%s %s://...: unknown kind of store; give a postgres:// or postgresql:// URL, or the path of an SQLite file", from, scheme))
	}
	return target, nil
}
