package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgConns hands out PostgreSQL connections to one Postgres handle, at most
// max at a time, keeping released ones for reuse. It is pgxpool's job in
// miniature: pgxpool needs github.com/jackc/puddle/v2, which go.sum does not
// record yet; swapping this for pgxpool later changes nothing else.
type pgConns struct {
	cfg    *pgx.ConnConfig
	slots  chan struct{} // one token per open connection, idle or in use
	idle   chan idleConn
	closed chan struct{}

	mu       sync.Mutex // orders release against close, so no connection is parked after close
	isClosed bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// pgDialTimeout bounds opening one connection when the URL sets no
// connect_timeout and the caller's context has no earlier deadline.
const pgDialTimeout = 10 * time.Second

// pgIdleCheck is how long a connection may sit idle before it is pinged
// before use: a server restart or a failover leaves dead sockets behind.
const pgIdleCheck = 30 * time.Second

func newPGConns(cfg *pgx.ConnConfig, max int) *pgConns {
	return &pgConns{cfg: cfg, slots: make(chan struct{}, max), idle: make(chan idleConn, max), closed: make(chan struct{})}
}

func dialPG(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, pgDialTimeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// acquire returns a connection for the caller's exclusive use; hand it back
// with release.
func (p *pgConns) acquire(ctx context.Context) (*pgx.Conn, error) {
	for {
		select {
		case <-p.closed:
			return nil, errStoreClosed
		default:
		}
		var ic idleConn
		select {
		case ic = <-p.idle:
		default:
			select {
			case ic = <-p.idle:
			case p.slots <- struct{}{}:
				c, err := dialPG(ctx, p.cfg)
				if err != nil {
					<-p.slots
					return nil, err
				}
				return c, nil
			case <-p.closed:
				return nil, errStoreClosed
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if time.Since(ic.since) < pgIdleCheck || ic.conn.Ping(ctx) == nil {
			return ic.conn, nil
		}
		p.discard(ic.conn)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// release hands c back. A connection that broke, or that a failed call left
// inside a transaction, is closed rather than reused.
func (p *pgConns) release(c *pgx.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClosed || c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		p.discard(c)
		return
	}
	p.idle <- idleConn{conn: c, since: time.Now()} // never blocks: idle ≤ open ≤ max
}

func (p *pgConns) discard(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	c.Close(ctx)
	cancel()
	<-p.slots
}

// close closes the idle connections; those in use close when released.
func (p *pgConns) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClosed {
		return
	}
	p.isClosed = true
	close(p.closed)
	for {
		select {
		case ic := <-p.idle:
			p.discard(ic.conn)
		default:
			return
		}
	}
}

var errStoreClosed = errors.New("store is closed")
