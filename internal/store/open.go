package store

import (
	"context"
	"fmt"
	"strings"
)

// Open opens the store named by target: a postgres:// or postgresql:// URL
// opens PostgreSQL (shared by several instances), anything else is the path
// of an SQLite database file. A URL of another scheme is refused rather
// than taken for a file name.
func Open(ctx context.Context, target string) (Store, error) {
	scheme, _, isURL := strings.Cut(target, "://")
	switch {
	case !isURL:
		return OpenSQLite(ctx, target)
	case strings.EqualFold(scheme, "postgres"), strings.EqualFold(scheme, "postgresql"):
		return OpenPostgres(ctx, target)
	default:
		return nil, fmt.Errorf("store %s://...: unknown kind of store; give a postgres:// URL or the path of an SQLite file", scheme)
	}
}
