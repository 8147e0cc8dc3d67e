package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenChoosesSQLiteForAPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*SQLite); !ok {
		t.Fatalf("Open(%s) gave %T, want *SQLite", path, s)
	}
}

func TestOpenRefusesOtherURLs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, target := range []string{"mysql://root@db/ca", "sqlite:///var/lib/ca.db", "http://example.test/ca"} {
		s, err := Open(context.Background(), target)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded", target)
			continue
		}
		if !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("Open(%s): %v; want advice naming postgres://", target, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused URL left files behind: %v", entries)
	}
	// A password must not leak into the message of a URL that pgx cannot parse.
	_, err := Open(context.Background(), "postgres://u:s3cret@[::1/x")
	if err == nil || strings.Contains(err.Error(), "s3cret") || errors.Is(err, ErrNotFound) {
		t.Errorf("bad PostgreSQL URL: %v", err)
	}
}
