package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Locks are PostgreSQL session-level advisory locks, each held on a
// connection of its own, dialled for it and closed when it is released.
//
// Why session-level: Lock and Unlock are separate calls with the caller's
// work between them, while a transaction-level lock lives only as long as
// one transaction; holding a transaction open across the caller's work would
// pin a snapshot and sit "idle in transaction". Why a dedicated connection:
// a session lock belongs to the connection that took it, so it must neither
// go back to the shared connections (another call would inherit it) nor
// stop one of them from serving calls for as long as it is held.
//
// What this buys over a lock table: when a holder dies, its connection
// closes and PostgreSQL releases the lock at once, with no expiry to wait
// for. The ttl is kept three ways: the holder releases the lock when ttl
// passes; on PostgreSQL 14 and newer the server also ends the holding
// session after ttl of silence (idle_session_timeout), so a frozen holder
// cannot keep it; and TCP keepalives make the server notice a holder whose
// host vanished within about half a minute.
//
// Advisory locks need a session that stays one server connection: point
// tlsgate at PostgreSQL itself or at a pooler in session mode, never at a
// transaction-mode pooler.
type pgLock struct {
	conn  *pgx.Conn
	timer *time.Timer

	once sync.Once
}

// release gives the lock back and closes its connection. Closing alone
// would free the lock once the server sees the connection end; the explicit
// unlock frees it before release returns. Errors are of no use to the
// caller: a connection that fails to unlock is closed, which frees the lock.
func (l *pgLock) release() {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !l.conn.IsClosed() {
			l.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		}
		l.conn.Close(ctx)
	})
}

// lockConnConfig is the handle's connection settings, adjusted for a
// connection that holds a lock.
func (p *Postgres) lockConnConfig(name string) *pgx.ConnConfig {
	cfg := p.cfg.Copy()
	// pg_stat_activity then says who holds what.
	app := "tlsgate lock " + name
	if len(app) > 63 {
		app = app[:63]
	}
	cfg.RuntimeParams["application_name"] = strings.ToValidUTF8(app, "")
	for k, v := range map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	return cfg
}

// Lock implements Store.
func (p *Postgres) Lock(ctx context.Context, name string, ttl time.Duration) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("lock %q: %w", name, errStoreClosed)
	}
	conn, err := dialPG(ctx, p.lockConnConfig(name))
	if err != nil {
		return p.describe(fmt.Errorf("lock %q: %w", name, err))
	}
	fail := func(err error) error {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("lock %q: %w", name, ctx.Err())
		}
		return p.describe(fmt.Errorf("lock %q: %w", name, err))
	}
	// When ctx ends during the wait, pgx breaks off the connection and
	// sends the server a cancel request, so no server process is left
	// waiting to take the lock for a caller that has gone (tested).
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, p.advisoryKey("lock", name)); err != nil {
		return fail(err)
	}
	if major, _ := strconv.Atoi(strings.SplitN(conn.PgConn().ParameterStatus("server_version"), ".", 2)[0]); major >= 14 {
		ms := max(ttl.Milliseconds()+1, 1) // 0 would mean no timeout
		if ms > 1<<31-1 {
			ms = 0 // beyond what the setting holds: the holder's timer alone keeps the ttl
		}
		if _, err := conn.Exec(ctx, `SELECT set_config('idle_session_timeout', $1, false)`, strconv.FormatInt(ms, 10)); err != nil {
			return fail(err)
		}
	}
	// The entry stays in p.locks after the ttl frees the lock, so that the
	// holder's Unlock still succeeds, as with SQLite.
	l := &pgLock{conn: conn}
	l.timer = time.AfterFunc(ttl, l.release)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.timer.Stop()
		l.release()
		return fmt.Errorf("lock %q: %w", name, errStoreClosed)
	}
	p.locks[name] = l
	p.mu.Unlock()
	return nil
}

// Unlock implements Store. A lock whose ttl has passed is already free, so
// unlocking it is no error, as with SQLite.
func (p *Postgres) Unlock(ctx context.Context, name string) error {
	p.mu.Lock()
	l, ok := p.locks[name]
	delete(p.locks, name)
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("lock %q is not held here", name)
	}
	l.timer.Stop()
	l.release()
	return nil
}
