package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// applicationID marks a database file as tlsgate's ("tlsg") so that a
// foreign SQLite file is refused instead of being migrated.
const applicationID = 0x746c7367

// maxBatch bounds how many queued writes share one transaction (and one
// fsync). Group commit is what lets concurrent issuance stay fast while
// every write is durable before its caller returns.
const maxBatch = 128

// SQLite is the embedded Store: one file in WAL mode, synchronous=FULL so
// a committed write survives power loss, writes funnelled through a single
// connection that commits queued writes together.
type SQLite struct {
	path   string
	writer *sql.DB
	reader *sql.DB

	ops       chan writeOp
	closeOnce sync.Once
	done      chan struct{}

	mu    sync.Mutex
	locks map[string]string // lock name -> our owner token

	// stmts holds the hot write statements, prepared once on the single
	// writer connection before the write loop starts: parsing SQL per write
	// was a fifth of issuance time.
	stmts map[string]*sql.Stmt
}

const (
	qSavepoint   = "SAVEPOINT op"
	qRollbackTo  = "ROLLBACK TO op"
	qRelease     = "RELEASE op"
	qInsertCert  = `INSERT INTO certificates(serial, issuer, profile, subject, sans, not_before, not_after, created) VALUES(?,?,?,?,?,?,?,?)`
	qInsertDER   = `INSERT INTO certificate_der(serial, der) VALUES(?,?)`
	qInsertEvent = `INSERT INTO events(time, actor, action, serial, detail) VALUES(?,?,?,?,?)`
)

func (s *SQLite) prepare(ctx context.Context) error {
	for _, q := range []string{qSavepoint, qRollbackTo, qRelease, qInsertCert, qInsertDER, qInsertEvent} {
		st, err := s.writer.PrepareContext(ctx, q)
		if err != nil {
			return s.describe(err)
		}
		s.stmts[q] = st
	}
	return nil
}

// txExec runs query in tx, through its prepared statement when it has one.
func (s *SQLite) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st, ok := s.stmts[query]; ok {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

type writeOp struct {
	fn   func(ctx context.Context, tx *sql.Tx) error
	errc chan error
}

// OpenSQLite opens (creating if missing, with mode 0600) the database at
// path and brings its schema up to date. A file that is not an SQLite
// database, or is another program's, or is from a newer tlsgate, is
// refused without being changed.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create database %s: %w", path, err)
		}
		if f != nil {
			f.Close()
		}
	}
	// Check the header before SQLite touches the file: opening in WAL
	// mode would otherwise try to convert whatever is there.
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	s := &SQLite{path: path, writer: writer, ops: make(chan writeOp, maxBatch), done: make(chan struct{}), locks: map[string]string{}, stmts: map[string]*sql.Stmt{}}
	if err := s.migrate(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout(10000)")
	rq.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	reader.SetMaxOpenConns(4)
	reader.SetMaxIdleConns(4)
	s.reader = reader
	go s.writeLoop()
	return s, nil
}

// checkHeader refuses a non-empty file that does not start with SQLite's
// magic string, naming the file and what to do.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 16)
	n, _ := f.Read(buf)
	if n == 0 {
		return nil // new, empty file
	}
	if n < 16 || string(buf) != "SQLite format 3\x00" {
		return fmt.Errorf("%s is not an SQLite database (corrupted or another file type): %w; restore it from a backup or move it away", path, ErrForeign)
	}
	return nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	var appID, version int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.describe(err)
	}
	if err := s.writer.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.describe(err)
	}
	if appID == 0 {
		var tables int
		if err := s.writer.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
			return s.describe(err)
		}
		if tables > 0 || version != 0 {
			return fmt.Errorf("%s is an SQLite database of another program (it has %d tables but no tlsgate mark): %w; move it away or use another data directory", s.path, tables, ErrForeign)
		}
	} else if appID != applicationID {
		return fmt.Errorf("%s belongs to another program (SQLite application_id %#x): %w; move it away or use another data directory", s.path, appID, ErrForeign)
	}
	if version > int64(len(migrations)) {
		return fmt.Errorf("%s has schema version %d but this tlsgate knows versions up to %d: %w; upgrade tlsgate", s.path, version, len(migrations), ErrNewerSchema)
	}
	if _, err := s.writer.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return s.describe(err)
	}
	for v := version; v < int64(len(migrations)); v++ {
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return s.describe(err)
		}
		stmts := migrations[v]
		if v == 0 {
			stmts = append([]string{fmt.Sprintf("PRAGMA application_id=%d", applicationID)}, stmts...)
		}
		for _, stmt := range stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate %s to schema version %d: %w", s.path, v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version=%d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s to schema version %d: %w", s.path, v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s to schema version %d: %w", s.path, v+1, err)
		}
	}
	return nil
}

// describe turns SQLite's "not a database" and corruption codes into an
// error that names the file and says what to do.
func (s *SQLite) describe(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%s is corrupted or not an SQLite database (%v): %w; restore it from a backup or move it away", s.path, err, ErrForeign)
		}
	}
	return fmt.Errorf("database %s: %w", s.path, err)
}

// SchemaVersion returns the schema version this tlsgate writes.
func SchemaVersion() int { return len(migrations) }

// write queues fn to run inside a transaction shared with other queued
// writes and waits until that transaction is committed.
func (s *SQLite) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	op := writeOp{fn: fn, errc: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return fmt.Errorf("database %s is closed", s.path)
	}
	// Once queued, the write may commit; wait for the verdict so the caller
	// never mistakes a committed write for a failed one.
	return <-op.errc
}

func (s *SQLite) writeLoop() {
	for {
		var first writeOp
		select {
		case first = <-s.ops:
		case <-s.done:
			s.drain()
			return
		}
		batch := []writeOp{first}
	more:
		for len(batch) < maxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break more
			}
		}
		s.commit(batch)
	}
}

// drain fails the writes still queued when the store closes.
func (s *SQLite) drain() {
	for {
		select {
		case op := <-s.ops:
			op.errc <- fmt.Errorf("database %s is closed", s.path)
		default:
			return
		}
	}
}

func (s *SQLite) commit(batch []writeOp) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		for _, op := range batch {
			op.errc <- s.describe(err)
		}
		return
	}
	for i, op := range batch {
		if _, err := s.txExec(ctx, tx, qSavepoint); err != nil {
			errs[i] = err
			continue
		}
		if err := op.fn(ctx, tx); err != nil {
			errs[i] = err
			if _, rerr := s.txExec(ctx, tx, qRollbackTo); rerr != nil {
				errs[i] = errors.Join(err, rerr)
			}
		}
		if _, err := s.txExec(ctx, tx, qRelease); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	cerr := tx.Commit()
	for i, op := range batch {
		switch {
		case errs[i] != nil:
			op.errc <- errs[i]
		case cerr != nil:
			op.errc <- s.describe(cerr)
		default:
			op.errc <- nil
		}
	}
}

// Close stops the writer and closes the database.
func (s *SQLite) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		for _, st := range s.stmts {
			st.Close()
		}
		err = errors.Join(s.reader.Close(), s.writer.Close())
	})
	return err
}

// IntegrityCheck runs SQLite's full integrity check and returns its
// findings as an error, nil when the file is sound.
func (s *SQLite) IntegrityCheck(ctx context.Context) error {
	rows, err := s.reader.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return s.describe(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s fails its integrity check: %s", s.path, strings.Join(problems, "; "))
	}
	return rows.Err()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

func (s *SQLite) insertEvent(ctx context.Context, tx *sql.Tx, ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	_, err := s.txExec(ctx, tx, qInsertEvent,
		nanos(ev.Time), ev.Actor, ev.Action, ev.Serial, ev.Detail)
	return err
}

// PutCertificate implements Store.
func (s *SQLite) PutCertificate(ctx context.Context, c Certificate, ev Event) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.txExec(ctx, tx, qInsertCert, c.Serial, c.Issuer, c.Profile, c.Subject, strings.Join(c.SANs, "\n"),
			nanos(c.NotBefore), nanos(c.NotAfter), time.Now().UnixNano())
		if isConstraint(err) {
			return fmt.Errorf("serial %s: %w", c.Serial, ErrDuplicateSerial)
		}
		if err != nil {
			return fmt.Errorf("record certificate %s: %w", c.Serial, err)
		}
		if _, err := s.txExec(ctx, tx, qInsertDER, c.Serial, c.DER); err != nil {
			return fmt.Errorf("record certificate %s: %w", c.Serial, err)
		}
		return s.insertEvent(ctx, tx, ev)
	})
}

const certColumns = `c.serial, c.issuer, c.profile, c.subject, c.sans, c.not_before, c.not_after, coalesce(r.revoked_at, 0), coalesce(r.reason, 0)`

type scanner interface{ Scan(...any) error }

func scanCert(row scanner, withDER bool) (Certificate, error) {
	var c Certificate
	var sans string
	var nb, na, ra int64
	dest := []any{&c.Serial, &c.Issuer, &c.Profile, &c.Subject, &sans, &nb, &na, &ra, &c.RevocationReason}
	if withDER {
		dest = append(dest, &c.DER)
	}
	if err := row.Scan(dest...); err != nil {
		return c, err
	}
	if sans != "" {
		c.SANs = strings.Split(sans, "\n")
	}
	c.NotBefore, c.NotAfter, c.RevokedAt = fromNanos(nb), fromNanos(na), fromNanos(ra)
	return c, nil
}

// Certificate implements Store.
func (s *SQLite) Certificate(ctx context.Context, serial string) (Certificate, error) {
	row := s.reader.QueryRowContext(ctx, `SELECT `+certColumns+`, d.der FROM certificates c JOIN certificate_der d ON d.serial = c.serial LEFT JOIN revocations r ON r.serial = c.serial WHERE c.serial = ?`, serial)
	c, err := scanCert(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("serial %s: %w", serial, ErrNotFound)
	}
	if err != nil {
		return c, s.describe(err)
	}
	return c, nil
}

// Certificates implements Store. Revocations are few next to
// certificates, so they are read once into a map rather than joined row by
// row: listing 100,000 certificates is the case to keep fast.
func (s *SQLite) Certificates(ctx context.Context, f ListFilter) ([]Certificate, error) {
	var where []string
	var args []any
	if f.Issuer != "" {
		where = append(where, "c.issuer = ?")
		args = append(args, f.Issuer)
	}
	if f.OnlyRevoked {
		where = append(where, "c.serial IN (SELECT serial FROM revocations)")
	}
	if !f.NotAfterFrom.IsZero() {
		where = append(where, "c.not_after >= ?")
		args = append(args, nanos(f.NotAfterFrom))
	}
	if !f.NotAfterTo.IsZero() {
		where = append(where, "c.not_after < ?")
		args = append(args, nanos(f.NotAfterTo))
	}
	q := `SELECT c.serial, c.issuer, c.profile, c.subject, c.sans, c.not_before, c.not_after`
	if f.WithDER {
		q += `, d.der FROM certificates c JOIN certificate_der d ON d.serial = c.serial`
	} else {
		q += ` FROM certificates c`
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY c.rowid"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	// One read transaction, so the certificates and the revocations are
	// the same snapshot.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, s.describe(err)
	}
	defer tx.Rollback()
	revoked := map[string]Revocation{}
	rrows, err := tx.QueryContext(ctx, `SELECT serial, reason, revoked_at FROM revocations`)
	if err != nil {
		return nil, s.describe(err)
	}
	for rrows.Next() {
		var r Revocation
		var at int64
		if err := rrows.Scan(&r.Serial, &r.Reason, &at); err != nil {
			rrows.Close()
			return nil, err
		}
		r.RevokedAt = fromNanos(at)
		revoked[r.Serial] = r
	}
	rrows.Close()
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.describe(err)
	}
	defer rows.Close()
	var out []Certificate
	for rows.Next() {
		var c Certificate
		var sans string
		var nb, na int64
		dest := []any{&c.Serial, &c.Issuer, &c.Profile, &c.Subject, &sans, &nb, &na}
		if f.WithDER {
			dest = append(dest, &c.DER)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, s.describe(err)
		}
		if sans != "" {
			c.SANs = strings.Split(sans, "\n")
		}
		c.NotBefore, c.NotAfter = fromNanos(nb), fromNanos(na)
		if r, ok := revoked[c.Serial]; ok {
			c.RevokedAt, c.RevocationReason = r.RevokedAt, r.Reason
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Revoke implements Store.
func (s *SQLite) Revoke(ctx context.Context, r Revocation, ev Event) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var issuer string
		var revoked int
		err := tx.QueryRowContext(ctx, `SELECT c.issuer, count(r.serial) FROM certificates c LEFT JOIN revocations r ON r.serial = c.serial WHERE c.serial = ? GROUP BY c.serial`, r.Serial).Scan(&issuer, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("serial %s: %w", r.Serial, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked > 0 {
			return fmt.Errorf("serial %s: %w", r.Serial, ErrAlreadyRevoked)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations(serial, issuer, reason, revoked_at) VALUES(?,?,?,?)`,
			r.Serial, issuer, r.Reason, nanos(r.RevokedAt)); err != nil {
			return fmt.Errorf("record revocation of %s: %w", r.Serial, err)
		}
		return s.insertEvent(ctx, tx, ev)
	})
}

// Revocations implements Store.
func (s *SQLite) Revocations(ctx context.Context, issuer string) ([]Revocation, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT serial, issuer, reason, revoked_at FROM revocations WHERE issuer = ? ORDER BY rowid`, issuer)
	if err != nil {
		return nil, s.describe(err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		var at int64
		if err := rows.Scan(&r.Serial, &r.Issuer, &r.Reason, &at); err != nil {
			return nil, err
		}
		r.RevokedAt = fromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AppendEvent implements Store.
func (s *SQLite) AppendEvent(ctx context.Context, ev Event) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.insertEvent(ctx, tx, ev) })
}

// Events implements Store.
func (s *SQLite) Events(ctx context.Context, after int64, limit int) ([]Event, error) {
	q := `SELECT seq, time, actor, action, serial, detail FROM events WHERE seq > ? ORDER BY seq`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.reader.QueryContext(ctx, q, after)
	if err != nil {
		return nil, s.describe(err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var t int64
		if err := rows.Scan(&ev.Seq, &t, &ev.Actor, &ev.Action, &ev.Serial, &ev.Detail); err != nil {
			return nil, err
		}
		ev.Time = fromNanos(t)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// LastEventSeq implements Store. SQLite lets one transaction write at a
// time, across processes too, and a Seq is drawn inside it: entries commit
// in Seq order, so nothing below the highest committed one is in flight.
func (s *SQLite) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.reader.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, s.describe(err)
	}
	return seq, nil
}

// Put implements Store.
func (s *SQLite) Put(ctx context.Context, key string, value []byte) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv(key, value, updated) VALUES(?,?,?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
			key, value, time.Now().UnixNano())
		return err
	})
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM kv WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, s.describe(err)
	}
	return v, nil
}

// Delete implements Store.
func (s *SQLite) Delete(ctx context.Context, key string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE key = ?`, key)
		return err
	})
}

// List implements Store.
func (s *SQLite) List(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT key FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key`, len(prefix), prefix)
	if err != nil {
		return nil, s.describe(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// lockPoll is how often Lock retries a lock held by someone else.
const lockPoll = 25 * time.Millisecond

// Lock implements Store.
func (s *SQLite) Lock(ctx context.Context, name string, ttl time.Duration) error {
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	owner := hex.EncodeToString(tok)
	for {
		err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			now := time.Now()
			if _, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND expires < ?`, name, now.UnixNano()); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO locks(name, owner, expires) VALUES(?,?,?) ON CONFLICT(name) DO NOTHING`, name, owner, now.Add(ttl).UnixNano())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrLocked
			}
			return nil
		})
		if err == nil {
			s.mu.Lock()
			s.locks[name] = owner
			s.mu.Unlock()
			return nil
		}
		if !errors.Is(err, ErrLocked) {
			return err
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("lock %q: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// Unlock implements Store.
func (s *SQLite) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	owner, ok := s.locks[name]
	delete(s.locks, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("lock %q is not held here", name)
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND owner = ?`, name, owner)
		return err
	})
}

var _ Store = (*SQLite)(nil)
