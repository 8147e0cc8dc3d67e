package store

// pgMigrations lists the PostgreSQL schema changes in order;
// pgMigrations[i] brings the schema from version i to i+1 (the version is
// the one row of tlsgate_schema). Never edit an entry that has shipped:
// append a new one. The layout follows the SQLite schema at its current
// version; the two are versioned independently.
var pgMigrations = [][]string{
	{
		// Serials are unique by the primary key: two instances that draw
		// the same serial cannot both commit it. id orders by issuance.
		// COLLATE "C" makes keys compare as bytes, as in SQLite, whatever
		// the database's locale.
		`CREATE TABLE certificates (
			id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
			serial     text COLLATE "C" PRIMARY KEY,
			issuer     text NOT NULL,
			profile    text NOT NULL,
			subject    text NOT NULL,
			sans       text[] NOT NULL,
			not_before timestamptz NOT NULL,
			not_after  timestamptz NOT NULL,
			created    timestamptz NOT NULL DEFAULT now()
		)`,
		`CREATE INDEX certificates_not_after ON certificates(not_after)`,
		// Certificate bytes live apart so that listings scan narrow rows.
		`CREATE TABLE certificate_der (
			serial text COLLATE "C" PRIMARY KEY REFERENCES certificates(serial),
			der    bytea NOT NULL
		)`,
		`CREATE TABLE revocations (
			id         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
			serial     text COLLATE "C" PRIMARY KEY REFERENCES certificates(serial),
			issuer     text NOT NULL,
			reason     integer NOT NULL,
			revoked_at timestamptz NOT NULL
		)`,
		`CREATE INDEX revocations_issuer ON revocations(issuer)`,
		`CREATE TABLE events (
			seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			time   timestamptz NOT NULL,
			actor  text NOT NULL,
			action text NOT NULL,
			serial text NOT NULL,
			detail text NOT NULL
		)`,
		// The audit log is append-only: the database itself refuses edits.
		`CREATE FUNCTION tlsgate_events_append_only() RETURNS trigger LANGUAGE plpgsql AS
			$$BEGIN RAISE EXCEPTION 'the audit log is append-only'; END$$`,
		`CREATE TRIGGER events_no_edit BEFORE UPDATE OR DELETE ON events
			FOR EACH ROW EXECUTE FUNCTION tlsgate_events_append_only()`,
		`CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
			FOR EACH STATEMENT EXECUTE FUNCTION tlsgate_events_append_only()`,
		`CREATE TABLE kv (
			key     text COLLATE "C" PRIMARY KEY,
			value   bytea NOT NULL,
			updated timestamptz NOT NULL
		)`,
	},
}

// pgTables are the names the first migration creates: finding any of them
// without tlsgate_schema means the schema belongs to another program.
var pgTables = []string{"certificates", "certificate_der", "revocations", "events", "kv"}

// PostgresSchemaVersion returns the PostgreSQL schema version this tlsgate
// writes.
func PostgresSchemaVersion() int { return len(pgMigrations) }
