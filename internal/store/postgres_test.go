package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tlsgate/tlsgate/internal/store/storetest"
)

func openPG(t testing.TB, dbURL string) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenPostgres(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPostgres starts one server and runs every PostgreSQL test on it, each
// in a database of its own.
func TestPostgres(t *testing.T) {
	srv := storetest.StartPostgres(t)
	t.Run("Contract", func(t *testing.T) {
		runContract(t, func(t *testing.T) func() Store {
			dbURL := srv.FreshDatabase(t)
			return func() Store { return openPG(t, dbURL) }
		})
	})
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, dbURL string)
	}{
		{"TwoInstancesNeverShareASerial", pgTwoInstancesNeverShareASerial},
		{"LockAcrossInstances", pgLockAcrossInstances},
		{"LockFreedWhenHolderCloses", pgLockFreedWhenHolderCloses},
		{"LockWaitGivenUpEndsOnServer", pgLockWaitGivenUpEndsOnServer},
		{"LockTTLKeptByServerForFrozenHolder", pgLockTTLKeptByServer},
		{"AuditLogRefusesEdits", pgAuditLogRefusesEdits},
		{"AuditLogTailMissesNothing", pgAuditLogTailMissesNothing},
		{"LastEventSeqWaitsForEntriesInFlight", pgLastEventSeqWaitsForEntriesInFlight},
		{"ConcurrentFirstOpenMigratesOnce", pgConcurrentFirstOpen},
		{"RefusesForeignAndNewerSchemas", pgRefusesForeignAndNewer},
		{"ReopenKeepsData", pgReopenKeepsData},
		{"OpenChoosesPostgresForURL", pgOpenChoosesPostgres},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, srv.FreshDatabase(t)) })
	}
}

// pgTwoInstancesNeverShareASerial has two handles, standing for two serve or
// ca instances, issue at once from a serial space so small that they must
// collide: every serial is recorded once, every refusal is
// ErrDuplicateSerial, and no refused issuance leaves an audit entry.
func pgTwoInstancesNeverShareASerial(t *testing.T, dbURL string) {
	ctx := context.Background()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	const perInstance, workers, space = 4, 60, 97
	var mu sync.Mutex
	won := map[string]int{} // serial -> how many PutCertificate calls succeeded with it
	var refused atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 2*perInstance*workers)
	for i, s := range []Store{a, b} {
		for w := range perInstance {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range workers {
					sn := fmt.Sprintf("%04x", (i*7+w*13+n*31)%space+1)
					err := s.PutCertificate(ctx, cert(sn, time.Now().Add(time.Hour)), Event{Action: "issue", Serial: sn})
					switch {
					case err == nil:
						mu.Lock()
						won[sn]++
						mu.Unlock()
					case errors.Is(err, ErrDuplicateSerial):
						refused.Add(1)
					default:
						errc <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for sn, n := range won {
		if n != 1 {
			t.Errorf("serial %s was issued %d times", sn, n)
		}
	}
	if refused.Load() == 0 {
		t.Fatal("no issuance collided: the test did not exercise the unique serial")
	}
	all, err := a.Certificates(ctx, ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(won) {
		t.Errorf("%d certificates recorded, %d issuances succeeded", len(all), len(won))
	}
	evs, err := b.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(won) {
		t.Errorf("%d audit entries for %d certificates: a refused issuance left one behind", len(evs), len(won))
	}
	t.Logf("%d serials issued, %d collisions refused", len(won), refused.Load())
}

// pgLockAcrossInstances has goroutines on two handles increment a counter
// kept in the key-value area, read-modify-write under Lock: without mutual
// exclusion across handles, increments are lost.
func pgLockAcrossInstances(t *testing.T, dbURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	if err := a.Put(ctx, "counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	const perHandle, rounds = 3, 15
	var inside, overlaps atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 2*perHandle*rounds)
	for _, s := range []Store{a, b} {
		for range perHandle {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					if err := s.Lock(ctx, "counter", time.Minute); err != nil {
						errc <- err
						return
					}
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					v, err := s.Get(ctx, "counter")
					if err == nil {
						n, _ := strconv.Atoi(string(v))
						err = s.Put(ctx, "counter", []byte(strconv.Itoa(n+1)))
					}
					inside.Add(-1)
					if uerr := s.Unlock(ctx, "counter"); err == nil {
						err = uerr
					}
					if err != nil {
						errc <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := overlaps.Load(); n > 0 {
		t.Errorf("the lock was held by two owners at once %d times", n)
	}
	v, err := b.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(2 * perHandle * rounds); string(v) != want {
		t.Errorf("counter = %s after %s locked increments: updates were lost", v, want)
	}
}

// pgLockFreedWhenHolderCloses checks the advantage over a lock table: a
// holder that goes away (here: closes, as a crashed process's connection
// does) frees its lock at once, long before its ttl.
func pgLockFreedWhenHolderCloses(t *testing.T, dbURL string) {
	ctx := context.Background()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	if err := a.Lock(ctx, "renew", time.Hour); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "renew", time.Minute); err == nil {
		t.Fatal("a held lock was taken by another instance")
	}
	a.Close()
	later, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	start := time.Now()
	if err := b.Lock(later, "renew", time.Minute); err != nil {
		t.Fatalf("lock of a closed holder not freed: %v", err)
	}
	t.Logf("lock taken over %v after its holder closed", time.Since(start).Round(time.Millisecond))
	// A wait that timed out must not have left a waiter on the server that
	// takes the lock later for nobody.
	if err := b.Unlock(ctx, "renew"); err != nil {
		t.Fatal(err)
	}
	c := openPG(t, dbURL)
	again, cancel3 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel3()
	if err := c.Lock(again, "renew", time.Minute); err != nil {
		t.Fatalf("lock not free after Unlock: %v", err)
	}
}

// pgLockWaitGivenUpEndsOnServer checks that a Lock whose context ends
// stops waiting on the server too: a server process left waiting would take
// the lock when it frees, for a caller that has gone.
func pgLockWaitGivenUpEndsOnServer(t *testing.T, dbURL string) {
	ctx := context.Background()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	if err := a.Lock(ctx, "renew", time.Minute); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "renew", time.Minute); err == nil {
		t.Fatal("a held lock was taken by another instance")
	}
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var waiting int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return
		}
	}
	t.Fatalf("%d server processes still wait for the lock after the caller gave up", waiting)
}

// pgLockTTLKeptByServer stands for a holder that is frozen (its own timer
// never fires): PostgreSQL 14 and newer end its session after ttl of
// silence, which frees the lock.
func pgLockTTLKeptByServer(t *testing.T, dbURL string) {
	ctx := context.Background()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	if err := a.Lock(ctx, "renew", time.Second); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	l := a.locks["renew"]
	a.mu.Unlock()
	major, _ := strconv.Atoi(strings.SplitN(l.conn.PgConn().ParameterStatus("server_version"), ".", 2)[0])
	if major < 14 {
		t.Skipf("PostgreSQL %d has no idle_session_timeout", major)
	}
	l.timer.Stop() // frozen
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "renew", time.Minute); err == nil {
		t.Fatal("a held lock was taken by another instance before its ttl")
	}
	wait, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := b.Lock(wait, "renew", time.Minute); err != nil {
		t.Fatalf("lock of a frozen holder not freed after its ttl: %v", err)
	}
}

// pgAuditLogRefusesEdits checks that the database itself, not only the Go
// API, keeps the audit log append-only.
func pgAuditLogRefusesEdits(t *testing.T, dbURL string) {
	ctx := context.Background()
	s := openPG(t, dbURL)
	if err := s.AppendEvent(ctx, Event{Action: "test"}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, stmt := range []string{"UPDATE events SET detail = 'x'", "DELETE FROM events", "TRUNCATE events"} {
		if _, err := c.Exec(ctx, stmt); err == nil {
			t.Errorf("%s succeeded on the audit log", stmt)
		} else if !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: refused for another reason: %v", stmt, err)
		}
	}
	if evs, _ := s.Events(ctx, 0, 0); len(evs) != 1 {
		t.Errorf("audit log has %d entries, want 1", len(evs))
	}
}

// pgAuditLogTailMissesNothing follows the log with Events(after last seen)
// while two handles append: a reader that remembers only the last seq must
// still see every entry, so entries must become visible in seq order.
func pgAuditLogTailMissesNothing(t *testing.T, dbURL string) {
	ctx := context.Background()
	a, b, reader := openPG(t, dbURL), openPG(t, dbURL), openPG(t, dbURL)
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errc := make(chan error, writers*each)
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := s.AppendEvent(ctx, Event{Action: "test", Detail: fmt.Sprintf("%d/%d", w, i)}); err != nil {
					errc <- err
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var last int64
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := reader.Events(ctx, last, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			seen[ev.Seq] = true
			last = ev.Seq
		}
		if finished {
			break
		}
	}
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	all, err := reader.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each {
		t.Fatalf("%d entries recorded, want %d", len(all), writers*each)
	}
	for _, ev := range all {
		if !seen[ev.Seq] {
			t.Errorf("the following reader never saw entry %d", ev.Seq)
		}
	}
}

// pgConcurrentFirstOpen opens an empty database from several instances at
// once: they migrate it once between them and all open.
func pgConcurrentFirstOpen(t *testing.T, dbURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenPostgres(ctx, dbURL)
			if err != nil {
				errc <- err
				return
			}
			errc <- s.Close()
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
	s := openPG(t, dbURL)
	var v int
	if err := s.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT version FROM tlsgate_schema`).Scan(&v)
	}); err != nil || v != PostgresSchemaVersion() {
		t.Fatalf("schema version %d (%v), want %d", v, err, PostgresSchemaVersion())
	}
}

// pgRefusesForeignAndNewer checks that a schema holding another program's
// tables, or a newer tlsgate's, is refused and left unchanged.
func pgRefusesForeignAndNewer(t *testing.T, dbURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	tables := func() string {
		var names []string
		rows, _ := c.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		rows.Close()
		return strings.Join(names, ",")
	}
	withPath := func(schema string) string {
		u, _ := url.Parse(dbURL)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, stmt := range []string{
		`CREATE SCHEMA foreign_app`,
		`CREATE TABLE foreign_app.certificates (id int)`,
		`CREATE SCHEMA newer`,
	} {
		if _, err := c.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenPostgres(ctx, withPath("newer"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := c.Exec(ctx, `UPDATE newer.tlsgate_schema SET version = $1`, PostgresSchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		schema string
		want   error
	}{{"foreign_app", ErrForeign}, {"newer", ErrNewerSchema}} {
		before := tables()
		s, err := OpenPostgres(ctx, withPath(tc.schema))
		if err == nil {
			s.Close()
			t.Errorf("schema %s opened; want %v", tc.schema, tc.want)
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("schema %s: got %v, want %v", tc.schema, err, tc.want)
		}
		if after := tables(); after != before {
			t.Errorf("a refused open of schema %s changed the tables: %s -> %s", tc.schema, before, after)
		}
	}
	if _, err := OpenPostgres(ctx, withPath("no_such_schema")); err == nil || !strings.Contains(err.Error(), "CREATE SCHEMA") {
		t.Errorf("search_path naming no existing schema: %v, want advice to create one", err)
	}
}

// pgReopenKeepsData closes and reopens, as a restarted instance does.
func pgReopenKeepsData(t *testing.T, dbURL string) {
	ctx := context.Background()
	s := openPG(t, dbURL)
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.PutCertificate(ctx, cert("0101", at.Add(time.Hour)), Event{Action: "issue", Time: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, Revocation{Serial: "0101", Reason: 4, RevokedAt: at}, Event{Action: "revoke"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openPG(t, dbURL)
	c, err := s2.Certificate(ctx, "0101")
	if err != nil {
		t.Fatal(err)
	}
	if !c.RevokedAt.Equal(at) || c.RevocationReason != 4 || c.RevokedAt.Location() != time.UTC || !c.NotAfter.Equal(at.Add(time.Hour)) {
		t.Fatalf("after reopen: %+v", c)
	}
	evs, err := s2.Events(ctx, 0, 0)
	if err != nil || len(evs) != 2 || !evs[0].Time.Equal(at) {
		t.Fatalf("audit log after reopen: %+v, %v", evs, err)
	}
}

func pgOpenChoosesPostgres(t *testing.T, dbURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*Postgres); !ok {
		t.Fatalf("Open(%s) gave %T, want *Postgres", dbURL, s)
	}
}

// BenchmarkIssueRecord compares recording one issued certificate (its row,
// its bytes and its audit entry, durably) in SQLite and in PostgreSQL, from
// one caller and from four callers per CPU on two PostgreSQL handles. The local
// cluster runs with fsync off, so PostgreSQL's figures show its round trips
// and locking, not a disk's flush.
func BenchmarkIssueRecord(b *testing.B) {
	der := make([]byte, 600)
	put := func(b *testing.B, s Store, sn string) {
		if err := s.PutCertificate(context.Background(), Certificate{Serial: sn, Issuer: "intermediate", Profile: "server",
			SANs: []string{"a.example.test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), DER: der}, Event{Action: "issue", Serial: sn}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.Run("SQLite", func(b *testing.B) {
		s, _ := openTemp(b)
		for b.Loop() {
			put(b, s, fmt.Sprintf("%032x", n.Add(1)))
		}
	})
	srv := storetest.StartPostgres(b)
	b.Run("Postgres", func(b *testing.B) {
		s := openPG(b, srv.FreshDatabase(b))
		for b.Loop() {
			put(b, s, fmt.Sprintf("%032x", n.Add(1)))
		}
	})
	b.Run("PostgresTwoInstancesParallel", func(b *testing.B) {
		dbURL := srv.FreshDatabase(b)
		handles := []Store{openPG(b, dbURL), openPG(b, dbURL)}
		var h atomic.Int64
		b.SetParallelism(4) // callers per CPU
		b.RunParallel(func(pb *testing.PB) {
			s := handles[h.Add(1)%2]
			for pb.Next() {
				put(b, s, fmt.Sprintf("%032x", n.Add(1)))
			}
		})
	})
}

// pgLastEventSeqWaitsForEntriesInFlight holds an audit entry uncommitted,
// as a slow writer would, while another handle commits a later one:
// LastEventSeq must not name the later seq before the earlier entry is
// committed, or a reader starting there would never see it.
func pgLastEventSeqWaitsForEntriesInFlight(t *testing.T, dbURL string) {
	ctx := context.Background()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	tx, slow := holdEntryInFlight(ctx, t, dbURL, a, b)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if seq, err := a.LastEventSeq(short); err == nil {
		t.Fatalf("LastEventSeq = %d while entry %d is still in flight; a reader starting there would never see it", seq, slow)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	seq, err := a.LastEventSeq(ctx)
	if err != nil || seq <= slow {
		t.Fatalf("LastEventSeq after the commit = %d, %v; want above %d", seq, err, slow)
	}
}

// TestPostgresEventsMissesNothingUnderRepeatableRead is
// AuditLogTailMissesNothing on a database whose default isolation is
// REPEATABLE READ (ALTER DATABASE ... SET default_transaction_isolation, or
// the role's setting, or as here the URL): the snapshot of Events'
// transaction is taken by the statement that waits for the lock, before the
// entry in flight commits, and the entry is then skipped for good.
func TestPostgresEventsMissesNothingUnderRepeatableRead(t *testing.T) {
	srv := storetest.StartPostgres(t)
	u, err := url.Parse(srv.FreshDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if u.RawQuery != "" {
		sep = "&"
	}
	dbURL := u.String() + sep + "default_transaction_isolation=repeatable%20read"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := openPG(t, dbURL), openPG(t, dbURL)
	if err := a.AppendEvent(ctx, Event{Action: "test", Detail: "before"}); err != nil {
		t.Fatal(err)
	}
	after, err := a.LastEventSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, slow := holdEntryInFlight(ctx, t, dbURL, a, b)
	type result struct {
		evs []Event
		err error
	}
	got := make(chan result, 1)
	go func() {
		evs, err := a.Events(ctx, after, 0)
		got <- result{evs, err}
	}()
	// Wait until Events waits for the lock, then commit the entry.
	watch, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	for {
		var waiting int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	var seqs []int64
	for _, ev := range r.evs {
		seqs = append(seqs, ev.Seq)
		if ev.Seq == slow {
			return
		}
	}
	t.Fatalf("Events(after %d) = seqs %v: entry %d, in flight when Events began and committed before it read, is skipped for good", after, seqs, slow)
}

// holdEntryInFlight does what insertEvent does for one audit entry, on a
// connection of its own, without committing it, as a slow writer would;
// then other commits a later entry. It returns the open transaction and
// the seq of the entry in flight.
func holdEntryInFlight(ctx context.Context, t *testing.T, dbURL string, p, other *Postgres) (pgx.Tx, int64) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, p.advisoryKey("events", "")); err != nil {
		t.Fatal(err)
	}
	var slow int64
	if err := tx.QueryRow(ctx, `INSERT INTO events(time, actor, action, serial, detail) VALUES(now(), 'test', 'revoke', '0b', 'in flight') RETURNING seq`).Scan(&slow); err != nil {
		t.Fatal(err)
	}
	if err := other.AppendEvent(ctx, Event{Action: "test", Detail: "committed after"}); err != nil {
		t.Fatal(err)
	}
	return tx, slow
}
