package pki

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
	"github.com/tlsgate/tlsgate/internal/store/storetest"
)

// copyCADir copies the CA directory of home to a new home, as an operator
// copies <home>/ca to another instance.
func copyCADir(t *testing.T, home string) string {
	t.Helper()
	other := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(Dir(other), 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(Dir(home))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(Dir(home), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := e.Info()
		if err := os.WriteFile(filepath.Join(Dir(other), e.Name()), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return other
}

// TestCAOnPostgres runs one CA from a PostgreSQL store on two instances,
// each with its copy of the CA directory, issuing at once.
func TestCAOnPostgres(t *testing.T) {
	srv := storetest.StartPostgres(t)
	dbURL := srv.FreshDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	homeA := filepath.Join(t.TempDir(), "home")
	a, err := Init(ctx, homeA, InitOptions{Name: "Shared CA", Store: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.Store().(*store.Postgres); !ok {
		t.Fatalf("CA store is %T, want *store.Postgres", a.Store())
	}
	recorded := filepath.Join(Dir(homeA), storeFile)
	fi, err := os.Stat(recorded)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v, %v; want 0600", recorded, fi.Mode().Perm(), err)
	}
	if data, _ := os.ReadFile(recorded); strings.TrimSpace(string(data)) != dbURL {
		t.Errorf("%s holds %q, want %q", recorded, data, dbURL)
	}
	if _, err := os.Stat(filepath.Join(Dir(homeA), databaseFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a CA on PostgreSQL also made %s (%v)", databaseFile, err)
	}

	// The second instance finds the store through the copied directory.
	b, err := Open(ctx, copyCADir(t, homeA), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const perInstance, rounds = 4, 10
	var mu sync.Mutex
	serials := map[string]int{}
	var wg sync.WaitGroup
	errc := make(chan error, 2*perInstance*rounds)
	for _, ca := range []*CA{a, b} {
		for range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"api.example.test"}})
					if err != nil {
						errc <- err
						return
					}
					mu.Lock()
					serials[is.Serial]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(serials) != 2*perInstance*rounds {
		t.Errorf("%d distinct serials from %d issuances", len(serials), 2*perInstance*rounds)
	}
	for sn, n := range serials {
		if n != 1 {
			t.Errorf("serial %s handed out %d times", sn, n)
		}
	}
	// Each instance sees what the other issued.
	for i, ca := range []*CA{a, b} {
		recs, err := ca.Store().Certificates(ctx, store.ListFilter{Issuer: issuerIntermed})
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, r := range recs {
			if serials[r.Serial] == 1 {
				found++
			}
		}
		if found != len(serials) {
			t.Errorf("instance %d sees %d of the %d certificates issued", i, found, len(serials))
		}
	}

	// A second init against the shared store is refused and leaves no CA.
	homeC := filepath.Join(t.TempDir(), "home")
	if _, err := Init(ctx, homeC, InitOptions{Store: dbURL}); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "Shared CA") {
		t.Fatalf("second init on the shared store: %v; want ErrExists naming the CA there", err)
	}
	if Exists(homeC) {
		t.Error("a refused init left a CA directory")
	}

	// A CA of its own never opens the shared store, nor the shared CA its store.
	other, homeO := newTestCA(t, InitOptions{Name: "Other CA"})
	other.Close()
	_, err = Open(ctx, homeO, Options{Store: dbURL})
	wantForeign(t, err, a, other)
	_, err = Open(ctx, homeA, Options{Store: filepath.Join(Dir(homeO), databaseFile)})
	wantForeign(t, err, other, a)

	// The shared CA still opens, its settings untouched by the refusals.
	again, err := Open(ctx, homeA, Options{WithoutKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if s := again.Settings(); s.Name != "Shared CA" || s.Root != a.RootFingerprint() {
		t.Errorf("settings after refusals: %+v", s)
	}

	// Instances initialising against one empty store at once end with one CA.
	fresh := srv.FreshDatabase(t)
	const racers = 4
	errs := make(chan error, racers)
	for range racers {
		go func() {
			ca, err := Init(ctx, filepath.Join(t.TempDir(), "home"), InitOptions{Store: fresh})
			if err == nil {
				ca.Close()
			}
			errs <- err
		}()
	}
	made := 0
	for range racers {
		switch err := <-errs; {
		case err == nil:
			made++
		case !errors.Is(err, ErrExists):
			t.Errorf("concurrent init: %v", err)
		}
	}
	if made != 1 {
		t.Errorf("%d CAs made by %d concurrent inits on one store, want 1", made, racers)
	}
}

// wantForeign checks that err refuses owner's store to opener, naming both.
func wantForeign(t *testing.T, err error, owner, opener *CA) {
	t.Helper()
	if !errors.Is(err, ErrForeignStore) {
		t.Fatalf("opening %s's store for %s: %v; want ErrForeignStore", owner.Settings().Name, opener.Settings().Name, err)
	}
	for _, s := range []string{owner.RootFingerprint(), opener.RootFingerprint(), owner.Settings().Name} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("refusal %q does not name %s", err, s)
		}
	}
}

// TestStoreElsewhereOnSQLite keeps the store in an SQLite file outside the
// CA directory, given as a relative path.
func TestStoreElsewhereOnSQLite(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	t.Chdir(work)
	home := filepath.Join(work, "home")
	ca, err := Init(ctx, home, InitOptions{Store: "shared.db"})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"a.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	ca.Close()
	if _, err := os.Stat(filepath.Join(Dir(home), databaseFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists beside a store elsewhere (%v)", databaseFile, err)
	}

	// Recorded as an absolute path: it opens from any directory.
	t.Chdir(t.TempDir())
	ro, err := Open(ctx, home, Options{WithoutKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Store().Certificate(ctx, issued.Serial); err != nil {
		t.Errorf("issued certificate not in the recorded store: %v", err)
	}
	ro.Close()

	// A mistyped store is refused, not created empty.
	missing := filepath.Join(work, "typo.db")
	if _, err := Open(ctx, home, Options{Store: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("open with a missing store: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opening a missing store created %s", missing)
	}

	// Init against a store that already has a CA is refused.
	if _, err := Init(ctx, filepath.Join(work, "home2"), InitOptions{Store: filepath.Join(work, "shared.db")}); !errors.Is(err, ErrExists) {
		t.Errorf("init on a store holding a CA: %v; want ErrExists", err)
	}
	if Exists(filepath.Join(work, "home2")) {
		t.Error("a refused init left a CA directory")
	}
}

func TestStoreNameHidesPasswords(t *testing.T) {
	for _, c := range []struct{ target, want string }{
		{"/var/lib/tlsgate/ca.db", "/var/lib/tlsgate/ca.db"},
		{"postgres://ca:s3cret@db.internal:5432/tlsgate?sslmode=verify-full", "postgres://ca@db.internal:5432/tlsgate"},
		{"postgresql://db.internal/tlsgate?password=s3cret", "postgresql://db.internal/tlsgate"},
		{"postgres://u:s3cret@[::1/x", "postgres://..."},
	} {
		if got := storeName(c.target); got != c.want || strings.Contains(got, "s3cret") {
			t.Errorf("storeName(%q) = %q, want %q", c.target, got, c.want)
		}
	}
	// The same holds for what Init reports about a store it cannot use.
	_, err := Init(context.Background(), t.TempDir(), InitOptions{Store: "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=1"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("init on an unreachable store: %v", err)
	}
}

// TestStoreWithoutRootInSettings opens stores written before the settings
// named the root: the root's certificate record decides whose store it is.
func TestStoreWithoutRootInSettings(t *testing.T) {
	ctx := context.Background()
	forget := func(home string) {
		st, err := store.OpenSQLite(ctx, filepath.Join(Dir(home), databaseFile))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		raw, err := st.Get(ctx, settingsKey)
		if err != nil {
			t.Fatal(err)
		}
		raw = []byte(strings.Replace(string(raw), `"root":`, `"old_root":`, 1))
		if err := st.Put(ctx, settingsKey, raw); err != nil {
			t.Fatal(err)
		}
	}
	a, homeA := newTestCA(t, InitOptions{Name: "Old CA"})
	a.Close()
	b, homeB := newTestCA(t, InitOptions{Name: "Other CA"})
	b.Close()
	forget(homeA)
	ca, err := Open(ctx, homeA, Options{})
	if err != nil {
		t.Fatalf("open a CA whose settings do not name the root: %v", err)
	}
	ca.Close()
	_, err = Open(ctx, homeB, Options{Store: filepath.Join(Dir(homeA), databaseFile)})
	if !errors.Is(err, ErrForeignStore) || !strings.Contains(err.Error(), "Old CA") {
		t.Errorf("open another CA's older store: %v; want ErrForeignStore naming Old CA", err)
	}
}
