package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Postgres is the scale-out Store: several serve and ca instances share one
// PostgreSQL database. Coordination between them is the database's own:
// serial uniqueness is a primary key, each write is one transaction, the
// audit log's order is kept by a transaction-level advisory lock and Lock is
// a session-level advisory lock (see postgres_locks.go).
//
// Tables live in the connection's current schema (the first schema of
// search_path that exists; set it with ?search_path=NAME in the URL), so
// several tlsgate installations can share one database in separate schemas.
type Postgres struct {
	where  string // postgres://user@host:port/db, no password: for messages
	cfg    *pgx.ConnConfig
	schema string
	conns  *pgConns

	mu     sync.Mutex
	locks  map[string]*pgLock
	closed bool
}

// pgMaxConns bounds the connections one handle keeps for its calls (locks
// use their own, see postgres_locks.go). A CA's writes are short; more
// connections than this queue on the database's locks rather than gain.
const pgMaxConns = 8

// OpenPostgres connects to the database at url (postgres://user:pass@host:
// port/db?sslmode=verify-full&search_path=tlsgate, or any form pgx accepts)
// and brings the tlsgate schema there up to date. A schema holding another
// program's tables of the same names, or a newer tlsgate schema, is refused
// without being changed.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's parse errors can quote the URL, password included.
		return nil, fmt.Errorf("PostgreSQL URL is not valid (want postgres://user@host:port/database): %w", errors.Unwrap(err))
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "tlsgate"
	}
	// The Store promises that a write is durable when the call returns;
	// keep that even where the server's default says otherwise, unless the
	// URL chooses explicitly.
	if _, ok := cfg.RuntimeParams["synchronous_commit"]; !ok {
		cfg.RuntimeParams["synchronous_commit"] = "on"
	}
	p := &Postgres{
		where: fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database),
		cfg:   cfg,
		conns: newPGConns(cfg, pgMaxConns),
		locks: map[string]*pgLock{},
	}
	if err := p.migrate(ctx); err != nil {
		p.conns.close()
		return nil, err
	}
	return p, nil
}

// describe adds which database to err.
func (p *Postgres) describe(err error) error {
	return fmt.Errorf("database %s: %w", p.where, err)
}

// advisoryKey maps a name to a 64-bit advisory lock key, scoped to this
// schema so that installations sharing a database never block each other.
func (p *Postgres) advisoryKey(kind, name string) int64 {
	h := sha256.Sum256([]byte("tlsgate\x00" + p.schema + "\x00" + kind + "\x00" + name))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// withConn runs fn on a connection of the handle's own.
func (p *Postgres) withConn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := p.conns.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.conns.release(c)
	return fn(c)
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (p *Postgres) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return p.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, fn)
	})
}

// inReadCommittedTx runs fn in a READ COMMITTED transaction whatever the
// server's default_transaction_isolation: a statement after a lock wait
// must see what committed during the wait (see insertEvent).
func (p *Postgres) inReadCommittedTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return p.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
	})
}

func (p *Postgres) migrate(ctx context.Context) error {
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		var schema *string
		if err := c.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		if schema == nil {
			return errors.New("no schema to create tlsgate's tables in (none of search_path exists): create one, e.g. CREATE SCHEMA tlsgate, and add ?search_path=tlsgate to the URL")
		}
		p.schema = *schema
		p.where += "?search_path=" + p.schema
		// One transaction for the whole upgrade: PostgreSQL's DDL is
		// transactional, so a failure leaves the old schema intact, and the
		// advisory lock makes instances starting together migrate once.
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, p.advisoryKey("migrate", "")); err != nil {
				return err
			}
			var marked bool
			var ours []string
			rows, err := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1)`,
				append([]string{"tlsgate_schema"}, pgTables...))
			if err != nil {
				return err
			}
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					return err
				}
				if name == "tlsgate_schema" {
					marked = true
				} else {
					ours = append(ours, name)
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			version := 0
			if marked {
				if err := tx.QueryRow(ctx, `SELECT version FROM tlsgate_schema`).Scan(&version); err != nil {
					return fmt.Errorf("%s holds a tlsgate_schema table without a version (%w): %w; use another schema", p.where, err, ErrForeign)
				}
			} else if len(ours) > 0 {
				sort.Strings(ours)
				return fmt.Errorf("%s has tables named %s but no tlsgate_schema mark: %w; they belong to another program, use another schema (?search_path=...)", p.where, strings.Join(ours, ", "), ErrForeign)
			}
			if version > len(pgMigrations) {
				return fmt.Errorf("%s has schema version %d but this tlsgate knows versions up to %d: %w; upgrade tlsgate", p.where, version, len(pgMigrations), ErrNewerSchema)
			}
			if !marked {
				if _, err := tx.Exec(ctx, `CREATE TABLE tlsgate_schema (
					only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
					version  integer NOT NULL
				)`); err != nil {
					return fmt.Errorf("create tlsgate_schema: %w", err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO tlsgate_schema(version) VALUES(0)`); err != nil {
					return err
				}
			}
			for v := version; v < len(pgMigrations); v++ {
				for _, stmt := range pgMigrations[v] {
					if _, err := tx.Exec(ctx, stmt); err != nil {
						return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
					}
				}
				if _, err := tx.Exec(ctx, `UPDATE tlsgate_schema SET version = $1`, v+1); err != nil {
					return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
				}
			}
			return nil
		})
		return err
	})
	if err != nil && !errors.Is(err, ErrForeign) && !errors.Is(err, ErrNewerSchema) {
		return p.describe(err) // the sentinels' messages name the database already
	}
	return err
}

// Close releases the handle's locks and connections.
func (p *Postgres) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	held := p.locks
	p.locks = map[string]*pgLock{}
	p.mu.Unlock()
	for _, l := range held {
		l.timer.Stop()
		l.release()
	}
	p.conns.close()
	return nil
}

func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == constraint
}

// The audit log must never show a reader seq 12 while 11 is still in
// flight: a reader that asks for seq > 12 next would never see 11. Writers
// hold a shared advisory lock from before their seq is drawn until their
// commit; Events takes the same lock exclusively, so it reads only once
// every seq drawn so far is committed or abandoned. Writers never wait for
// each other, only, briefly, for a reader.
func (p *Postgres) insertEvent(ctx context.Context, tx pgx.Tx, ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, p.advisoryKey("events", "")); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO events(time, actor, action, serial, detail) VALUES($1,$2,$3,$4,$5)`,
		ev.Time, ev.Actor, ev.Action, ev.Serial, ev.Detail)
	return err
}

// PutCertificate implements Store.
func (p *Postgres) PutCertificate(ctx context.Context, c Certificate, ev Event) error {
	sans := c.SANs
	if sans == nil {
		sans = []string{}
	}
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO certificates(serial, issuer, profile, subject, sans, not_before, not_after) VALUES($1,$2,$3,$4,$5,$6,$7)`,
			c.Serial, c.Issuer, c.Profile, c.Subject, sans, c.NotBefore, c.NotAfter)
		if isUniqueViolation(err, "certificates_pkey") {
			return fmt.Errorf("serial %s: %w", c.Serial, ErrDuplicateSerial)
		}
		if err != nil {
			return fmt.Errorf("record certificate %s: %w", c.Serial, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO certificate_der(serial, der) VALUES($1,$2)`, c.Serial, c.DER); err != nil {
			return fmt.Errorf("record certificate %s: %w", c.Serial, err)
		}
		return p.insertEvent(ctx, tx, ev)
	})
	if err != nil && !errors.Is(err, ErrDuplicateSerial) {
		return p.describe(err)
	}
	return err
}

const pgCertColumns = `c.serial, c.issuer, c.profile, c.subject, c.sans, c.not_before, c.not_after, r.revoked_at, coalesce(r.reason, 0)`

func scanPGCert(row pgx.Row, withDER bool) (Certificate, error) {
	var c Certificate
	var revokedAt *time.Time
	dest := []any{&c.Serial, &c.Issuer, &c.Profile, &c.Subject, &c.SANs, &c.NotBefore, &c.NotAfter, &revokedAt, &c.RevocationReason}
	if withDER {
		dest = append(dest, &c.DER)
	}
	if err := row.Scan(dest...); err != nil {
		return c, err
	}
	if len(c.SANs) == 0 {
		c.SANs = nil
	}
	c.NotBefore, c.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	if revokedAt != nil {
		c.RevokedAt = revokedAt.UTC()
	}
	return c, nil
}

// Certificate implements Store.
func (p *Postgres) Certificate(ctx context.Context, serial string) (Certificate, error) {
	var c Certificate
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		c, err = scanPGCert(conn.QueryRow(ctx, `SELECT `+pgCertColumns+`, d.der FROM certificates c
			JOIN certificate_der d ON d.serial = c.serial
			LEFT JOIN revocations r ON r.serial = c.serial
			WHERE c.serial = $1`, serial), true)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("serial %s: %w", serial, ErrNotFound)
	}
	if err != nil {
		return c, p.describe(err)
	}
	return c, nil
}

// Certificates implements Store. One query joins the revocations, so the
// certificates and their revocations are the same snapshot.
func (p *Postgres) Certificates(ctx context.Context, f ListFilter) ([]Certificate, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Issuer != "" {
		where = append(where, "c.issuer = "+arg(f.Issuer))
	}
	if f.OnlyRevoked {
		where = append(where, "r.serial IS NOT NULL")
	}
	if !f.NotAfterFrom.IsZero() {
		where = append(where, "c.not_after >= "+arg(f.NotAfterFrom))
	}
	if !f.NotAfterTo.IsZero() {
		where = append(where, "c.not_after < "+arg(f.NotAfterTo))
	}
	q := `SELECT ` + pgCertColumns
	if f.WithDER {
		q += `, d.der FROM certificates c JOIN certificate_der d ON d.serial = c.serial`
	} else {
		q += ` FROM certificates c`
	}
	q += ` LEFT JOIN revocations r ON r.serial = c.serial`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY c.id"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	var out []Certificate
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanPGCert(rows, f.WithDER)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, p.describe(err)
	}
	return out, nil
}

// Revoke implements Store. Two instances revoking the same certificate at
// once: the second waits on the first's row and then finds it revoked.
func (p *Postgres) Revoke(ctx context.Context, r Revocation, ev Event) error {
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		var issuer string
		err := tx.QueryRow(ctx, `SELECT issuer FROM certificates WHERE serial = $1`, r.Serial).Scan(&issuer)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("serial %s: %w", r.Serial, ErrNotFound)
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO revocations(serial, issuer, reason, revoked_at) VALUES($1,$2,$3,$4) ON CONFLICT (serial) DO NOTHING`,
			r.Serial, issuer, r.Reason, r.RevokedAt)
		if err != nil {
			return fmt.Errorf("record revocation of %s: %w", r.Serial, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("serial %s: %w", r.Serial, ErrAlreadyRevoked)
		}
		return p.insertEvent(ctx, tx, ev)
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrAlreadyRevoked) {
		return p.describe(err)
	}
	return err
}

// Revocations implements Store.
func (p *Postgres) Revocations(ctx context.Context, issuer string) ([]Revocation, error) {
	var out []Revocation
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT serial, issuer, reason, revoked_at FROM revocations WHERE issuer = $1 ORDER BY id`, issuer)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r Revocation
			if err := rows.Scan(&r.Serial, &r.Issuer, &r.Reason, &r.RevokedAt); err != nil {
				return err
			}
			r.RevokedAt = r.RevokedAt.UTC()
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, p.describe(err)
	}
	return out, nil
}

// AppendEvent implements Store.
func (p *Postgres) AppendEvent(ctx context.Context, ev Event) error {
	if err := p.inTx(ctx, func(tx pgx.Tx) error { return p.insertEvent(ctx, tx, ev) }); err != nil {
		return p.describe(err)
	}
	return nil
}

// Events implements Store.
func (p *Postgres) Events(ctx context.Context, after int64, limit int) ([]Event, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	var out []Event
	err := p.inReadCommittedTx(ctx, func(tx pgx.Tx) error {
		// See insertEvent.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, p.advisoryKey("events", "")); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, time, actor, action, serial, detail FROM events WHERE seq > $1 ORDER BY seq LIMIT $2::bigint`, after, lim)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ev Event
			if err := rows.Scan(&ev.Seq, &ev.Time, &ev.Actor, &ev.Action, &ev.Serial, &ev.Detail); err != nil {
				return err
			}
			ev.Time = ev.Time.UTC()
			out = append(out, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, p.describe(err)
	}
	return out, nil
}

// LastEventSeq implements Store. Seqs are drawn before commit: while seq
// 11 is in flight, 12 may be committed, and a reader told 12 would never
// see 11. Taking the lock Events takes (see insertEvent) waits until every
// seq drawn so far is committed or abandoned.
func (p *Postgres) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := p.inReadCommittedTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, p.advisoryKey("events", "")); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq)
	})
	if err != nil {
		return 0, p.describe(err)
	}
	return seq, nil
}

// Put implements Store.
func (p *Postgres) Put(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `INSERT INTO kv(key, value, updated) VALUES($1,$2,now())
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated`, key, value)
		return err
	})
	if err != nil {
		return p.describe(fmt.Errorf("put %q: %w", key, err))
	}
	return nil
}

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT value FROM kv WHERE key = $1`, key).Scan(&v)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, p.describe(err)
	}
	return v, nil
}

// Delete implements Store.
func (p *Postgres) Delete(ctx context.Context, key string) error {
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `DELETE FROM kv WHERE key = $1`, key)
		return err
	})
	if err != nil {
		return p.describe(fmt.Errorf("delete %q: %w", key, err))
	}
	return nil
}

// List implements Store.
func (p *Postgres) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := p.withConn(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT key FROM kv WHERE starts_with(key, $1) ORDER BY key`, prefix)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			out = append(out, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, p.describe(err)
	}
	return out, nil
}

var _ Store = (*Postgres)(nil)
