package pki

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tlsgate/tlsgate/internal/store"
)

// storeFile, in the CA directory, records the store that ca init was given
// when it is not the default ca.db: an SQLite path or a PostgreSQL URL. It
// may hold a password, hence mode 0600 like the keys.
const storeFile = "store"

// initLock serialises ca init on one store, so that two instances
// initialising against a shared store yield one CA and ErrExists.
const initLock = "ca/init"

// ErrForeignStore means the store holds another CA's records.
var ErrForeignStore = errors.New("the store belongs to another CA")

// isStoreURL tells a URL from an SQLite path the way store.Open does.
func isStoreURL(target string) bool {
	_, _, ok := strings.Cut(target, "://")
	return ok
}

// absStoreTarget makes an SQLite path absolute, so that what the CA
// directory records means the same file from any working directory.
func absStoreTarget(target string) (string, error) {
	if target == "" || isStoreURL(target) {
		return target, nil
	}
	return filepath.Abs(target)
}

// storeName is target fit for messages and logs: a URL loses its password
// and query (where libpq also accepts a password).
func storeName(target string) string {
	if !isStoreURL(target) {
		return target
	}
	scheme, _, _ := strings.Cut(target, "://")
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return scheme + "://..."
	}
	name := u.Scheme + "://"
	if u.User != nil && u.User.Username() != "" {
		name += u.User.Username() + "@"
	}
	return name + u.Host + u.Path
}

// storeTarget chooses the store of the CA directory dir: explicit, else
// the one ca init recorded, else ca.db in dir. A non-default SQLite file
// that does not exist is refused rather than created empty.
func storeTarget(dir, explicit string) (string, error) {
	target, err := absStoreTarget(explicit)
	if err != nil {
		return "", err
	}
	from := "--store"
	if target == "" {
		data, err := os.ReadFile(filepath.Join(dir, storeFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return filepath.Join(dir, databaseFile), nil
		case err != nil:
			return "", err
		}
		target = strings.TrimSpace(string(data))
		if target == "" {
			return "", fmt.Errorf("%s is empty: write the store ca init was given into it, or remove it to use %s", filepath.Join(dir, storeFile), databaseFile)
		}
		from = filepath.Join(dir, storeFile)
	}
	if target == filepath.Join(dir, databaseFile) || isStoreURL(target) {
		return target, nil
	}
	if _, err := os.Stat(target); err != nil {
		return "", fmt.Errorf("store %s (from %s): %w; pass the --store that ca init was given", target, from, err)
	}
	return target, nil
}

// checkStoreOwner refuses a store whose settings name another root than
// this CA's, so that one CA never records into another CA's store. CAs
// made before the settings named their root are recognised by their root's
// certificate record.
func (ca *CA) checkStoreOwner(ctx context.Context, name string) error {
	want := ca.RootFingerprint()
	got := ca.settings.rootText()
	if ca.settings.Root == "" {
		rec, err := ca.store.Certificate(ctx, SerialString(ca.root.SerialNumber))
		if err == nil && bytes.Equal(rec.DER, ca.root.Raw) {
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if got == want {
		return nil
	}
	return fmt.Errorf("store %s: %w: it holds CA %q (root %s), not the CA in %s (root %q, %s); pass the --store that ca init was given for this CA",
		name, ErrForeignStore, ca.settings.Name, got, ca.dir, ca.root.Subject.CommonName, want)
}

// rootText is the root fingerprint the settings record, for messages.
func (s Settings) rootText() string {
	if s.Root == "" {
		return "not recorded"
	}
	return s.Root
}
