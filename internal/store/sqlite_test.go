package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openTemp(t testing.TB) (*SQLite, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.db")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func cert(serial string, notAfter time.Time) Certificate {
	return Certificate{Serial: serial, Issuer: "intermediate", Profile: "server", Subject: "CN=" + serial,
		SANs: []string{"a.example", "10.0.0.1"}, NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter, DER: []byte{1, 2, 3}}
}

// TestAuditLogRefusesEdits checks that the database itself, not only the
// Go API, keeps the audit log append-only.
func TestAuditLogRefusesEdits(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.AppendEvent(context.Background(), Event{Action: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"UPDATE events SET detail = 'x'", "DELETE FROM events"} {
		if _, err := s.writer.Exec(stmt); err == nil {
			t.Errorf("%s succeeded on the audit log", stmt)
		}
	}
}

func TestRefusesBadFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte("this is not a database, just some text that is long enough"), 0o600)

	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE notes(x TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	newer := filepath.Join(dir, "newer.db")
	s, err := OpenSQLite(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, _ = sql.Open("sqlite", newer)
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version=%d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, c := range []struct {
		path string
		want error
	}{{garbage, ErrForeign}, {foreign, ErrForeign}, {newer, ErrNewerSchema}} {
		before, _ := os.ReadFile(c.path)
		s, err := OpenSQLite(ctx, c.path)
		if err == nil {
			s.Close()
			t.Errorf("%s opened; want %v", filepath.Base(c.path), c.want)
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", filepath.Base(c.path), err, c.want)
		}
		after, _ := os.ReadFile(c.path)
		if string(before) != string(after) {
			t.Errorf("%s was changed by a refused open", filepath.Base(c.path))
		}
	}
}

func TestReopenKeepsDataAndFileMode(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if err := s.PutCertificate(ctx, cert("0101", time.Now()), Event{Action: "issue"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Certificate(ctx, "0101"); err != nil {
		t.Fatal(err)
	}
	if err := s2.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationKeepsData builds a version-1 database by hand, as an older
// tlsgate left it, and checks that opening it migrates without losing a
// certificate.
func TestMigrationKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := append([]string{fmt.Sprintf("PRAGMA application_id=%d", applicationID)}, migrations[0]...)
	stmts = append(stmts, "PRAGMA user_version=1",
		`INSERT INTO certificates(serial, issuer, profile, subject, sans, not_before, not_after, der, created) VALUES('0abc','intermediate','server','CN=old','old.example.test',1,2,x'0102',3)`)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := s.Certificate(ctx, "0abc")
	if err != nil || string(c.DER) != "\x01\x02" || c.SANs[0] != "old.example.test" {
		t.Fatalf("certificate after migration: %+v, %v", c, err)
	}
	var v int
	s.reader.QueryRow("PRAGMA user_version").Scan(&v)
	if v != SchemaVersion() {
		t.Errorf("schema version %d after open, want %d", v, SchemaVersion())
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}
