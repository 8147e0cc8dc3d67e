package store

// migrations lists the schema changes in order; migrations[i] brings the
// database from version i to i+1 (PRAGMA user_version). Never edit an entry
// that has shipped: append a new one.
var migrations = [][]string{
	{
		`CREATE TABLE certificates (
			serial     TEXT PRIMARY KEY,
			issuer     TEXT NOT NULL,
			profile    TEXT NOT NULL,
			subject    TEXT NOT NULL,
			sans       TEXT NOT NULL,
			not_before INTEGER NOT NULL,
			not_after  INTEGER NOT NULL,
			der        BLOB NOT NULL,
			created    INTEGER NOT NULL
		)`,
		`CREATE INDEX certificates_not_after ON certificates(not_after)`,
		`CREATE TABLE revocations (
			serial     TEXT PRIMARY KEY REFERENCES certificates(serial),
			issuer     TEXT NOT NULL,
			reason     INTEGER NOT NULL,
			revoked_at INTEGER NOT NULL
		)`,
		`CREATE INDEX revocations_issuer ON revocations(issuer)`,
		`CREATE TABLE events (
			seq    INTEGER PRIMARY KEY AUTOINCREMENT,
			time   INTEGER NOT NULL,
			actor  TEXT NOT NULL,
			action TEXT NOT NULL,
			serial TEXT NOT NULL,
			detail TEXT NOT NULL
		)`,
		// The audit log is append-only: the database itself refuses edits.
		`CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
		`CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`,
		`CREATE TABLE kv (
			key     TEXT PRIMARY KEY,
			value   BLOB NOT NULL,
			updated INTEGER NOT NULL
		)`,
		`CREATE TABLE locks (
			name    TEXT PRIMARY KEY,
			owner   TEXT NOT NULL,
			expires INTEGER NOT NULL
		)`,
	},
	// 2: certificate bytes move to their own table, so that listing scans
	// narrow rows instead of dragging every DER through the page cache.
	{
		`CREATE TABLE certificate_der (
			serial TEXT PRIMARY KEY REFERENCES certificates(serial),
			der    BLOB NOT NULL
		)`,
		`INSERT INTO certificate_der(serial, der) SELECT serial, der FROM certificates`,
		`ALTER TABLE certificates DROP COLUMN der`,
	},
}
