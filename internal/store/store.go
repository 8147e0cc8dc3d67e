// Package store keeps the certificate authority's state behind one small
// interface: issued certificates, revocations, an append-only audit log and a
// key-value area with locks. SQLite (embedded, pure Go) is the default
// implementation; the interface speaks only of values and transactions so
// that a PostgreSQL implementation can sit beside it without touching pki.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors callers branch on. Implementations wrap them with the detail that
// names the serial, key or file.
var (
	ErrNotFound        = errors.New("not found")
	ErrDuplicateSerial = errors.New("serial number already used")
	ErrAlreadyRevoked  = errors.New("already revoked")
	ErrNewerSchema     = errors.New("database schema is newer than this tlsgate")
	ErrForeign         = errors.New("not a tlsgate database")
	ErrLocked          = errors.New("lock held by another owner")
)

// Certificate is one issued certificate as the store records it. Serial is
// the canonical lowercase hexadecimal form without leading zeros.
type Certificate struct {
	Serial    string
	Issuer    string // which CA signed it, e.g. "intermediate" or "root"
	Profile   string // server, client, peer, ocsp, ca
	Subject   string
	SANs      []string
	NotBefore time.Time
	NotAfter  time.Time
	DER       []byte // empty in listings unless ListFilter.WithDER

	// Set when the certificate is revoked (RevokedAt is zero otherwise).
	RevokedAt        time.Time
	RevocationReason int
}

// Revoked reports whether the certificate carries a revocation.
func (c Certificate) Revoked() bool { return !c.RevokedAt.IsZero() }

// ListFilter narrows Certificates. The zero value lists everything, oldest
// first.
type ListFilter struct {
	Issuer       string    // only certificates signed by this CA
	OnlyRevoked  bool      // only revoked certificates
	NotAfterFrom time.Time // only certificates with NotAfter >= this (zero: no bound)
	NotAfterTo   time.Time // only certificates with NotAfter < this (zero: no bound)
	WithDER      bool      // also load the DER bytes
	Limit        int       // at most this many (0: no limit)
}

// Revocation records that a certificate is revoked, why (RFC 5280 CRLReason
// code) and when.
type Revocation struct {
	Serial    string
	Issuer    string
	Reason    int
	RevokedAt time.Time
}

// Event is one entry of the append-only audit log. Seq is assigned by the
// store and grows strictly.
type Event struct {
	Seq    int64
	Time   time.Time
	Actor  string // who acted: user@host (pid)
	Action string // init, issue, sign, renew, revoke, ...
	Serial string // the certificate concerned, if any
	Detail string
}

// Store is what the CA needs from persistence. Every write is durable when
// the method returns: a certificate is committed before it is handed out.
type Store interface {
	// PutCertificate records an issued certificate and its audit event in
	// one transaction. A serial already present yields ErrDuplicateSerial.
	PutCertificate(ctx context.Context, c Certificate, ev Event) error
	// Certificate returns the certificate with this serial, with its
	// revocation if any, or ErrNotFound.
	Certificate(ctx context.Context, serial string) (Certificate, error)
	// Certificates lists certificates matching f, ordered by issuance.
	Certificates(ctx context.Context, f ListFilter) ([]Certificate, error)
	// Revoke records a revocation and its audit event in one transaction.
	// Unknown serial: ErrNotFound; revoked before: ErrAlreadyRevoked.
	Revoke(ctx context.Context, r Revocation, ev Event) error
	// Revocations lists the revocations of certificates signed by issuer.
	Revocations(ctx context.Context, issuer string) ([]Revocation, error)

	// AppendEvent adds an entry to the audit log.
	AppendEvent(ctx context.Context, ev Event) error
	// Events returns audit entries with Seq > after, oldest first, at most
	// limit of them (0: all).
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
	// LastEventSeq returns the highest Seq in the audit log (0 when it is
	// empty), with the guarantee Events gives: no entry with a Seq at or
	// below it commits later. A reader that starts following the log there
	// (Events(ctx, LastEventSeq, ...)) misses nothing written after the
	// call, without reading what came before.
	LastEventSeq(ctx context.Context) (int64, error)

	// Put, Get, Delete and List form a key-value area for state that has no
	// table of its own (CA settings, later ACME accounts, ticket keys).
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) ([]string, error)

	// Lock takes the named lock for at most ttl, waiting until it is free
	// or ctx ends. Unlock releases it. Locks coordinate several processes
	// sharing one store.
	Lock(ctx context.Context, name string, ttl time.Duration) error
	Unlock(ctx context.Context, name string) error

	Close() error
}
