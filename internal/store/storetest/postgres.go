// Package storetest gives tests outside internal/store a PostgreSQL server
// to run against: $TLSGATE_TEST_POSTGRES_URL, else a throwaway cluster
// started from the local PostgreSQL installation, as internal/store's own
// tests do (see docs/store.md, "Testing against PostgreSQL").
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// Postgres is a PostgreSQL server the tests may create databases on.
type Postgres struct {
	admin string // URL of a database to run CREATE DATABASE from
	n     atomic.Int64
}

// StartPostgres returns a server for t and its subtests: the one
// $TLSGATE_TEST_POSTGRES_URL names (its role needs CREATEDB), else a
// cluster started on loopback and stopped when t ends. Without PostgreSQL
// the test is skipped locally and fails under CI=true.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	if u := os.Getenv("TLSGATE_TEST_POSTGRES_URL"); u != "" {
		return &Postgres{admin: u}
	}
	bin := binDir()
	if bin == "" {
		testtool.Missing(t, "PostgreSQL server programs initdb and pg_ctl (Debian package postgresql)")
	}
	// PostgreSQL refuses to run as root: run its programs as the postgres
	// user then, in a directory that user owns.
	var asUser []string
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testtool.Missing(t, "a postgres system user to run PostgreSQL as (it refuses to run as root)")
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			testtool.Missing(t, "runuser (to run PostgreSQL as the postgres user)")
		}
		asUser = []string{runuser, "-u", "postgres", "--"}
	}
	// Not t.TempDir: its parents are private to root, and the socket path
	// must stay short.
	parent := ""
	if uid >= 0 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "tlsgate-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(timeout time.Duration, name string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		argv := append(append(append([]string{}, asUser...), filepath.Join(bin, name)), args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		cmd.WaitDelay = 5 * time.Second
		return cmd.CombinedOutput()
	}
	data := filepath.Join(dir, "data")
	if out, err := run(60*time.Second, "initdb", "--pgdata", data, "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	logFile := filepath.Join(dir, "server.log")
	var port int
	for attempt := 0; ; attempt++ {
		port = freeLoopbackPort(t)
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off -c max_connections=200", port, dir)
		out, err := run(45*time.Second, "pg_ctl", "start", "--pgdata", data, "--wait", "--timeout", "30", "--log", logFile, "-o", opts)
		if err == nil {
			break
		}
		logText, _ := os.ReadFile(logFile)
		if attempt < 2 && bytes.Contains(logText, []byte("already in use")) {
			continue // the free port was taken meanwhile
		}
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, logText)
	}
	t.Cleanup(func() {
		if out, err := run(30*time.Second, "pg_ctl", "stop", "--pgdata", data, "--mode", "immediate", "--wait"); err != nil {
			t.Logf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return &Postgres{admin: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
}

// binDir finds initdb and pg_ctl: pg_config --bindir, else the newest
// /usr/lib/postgresql/*/bin (Debian keeps them off PATH).
func binDir() string {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[j])))
		return vi > vj
	})
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Postgres) adminExec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", s.admin, err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// FreshDatabase creates an empty database, dropped when t ends, and
// returns its URL.
func (s *Postgres) FreshDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("tlsgate_test_%d_%d", os.Getpid(), s.n.Add(1))
	s.adminExec(t, "CREATE DATABASE "+name)
	t.Cleanup(func() { s.adminExec(t, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(s.admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
