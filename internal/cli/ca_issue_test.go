package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCAIssueFileModes checks what testscript cannot: key.pem is private
// to its owner, cert.pem is readable, and a second issue into the same
// directory leaves both untouched.
func TestCAIssueFileModes(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	out := filepath.Join(dir, "out")
	run := func(args ...string) int {
		var se strings.Builder
		return Main(context.Background(), append([]string{"--home", home}, args...), &strings.Builder{}, &se)
	}
	if code := run("ca", "init"); code != 0 {
		t.Fatalf("init exit %d", code)
	}
	if code := run("ca", "issue", "--profile", "server", "--dns", "a.example.test", "--out", out); code != 0 {
		t.Fatalf("issue exit %d", code)
	}
	for name, want := range map[string]os.FileMode{"key.pem": 0o600, "cert.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s mode %v (%v), want %v", name, fi.Mode().Perm(), err, want)
		}
	}
	before, _ := os.ReadFile(filepath.Join(out, "key.pem"))
	if code := run("ca", "issue", "--profile", "server", "--dns", "b.example.test", "--out", out); code != ExitUsage {
		t.Errorf("issue over existing files: exit %d, want %d", code, ExitUsage)
	}
	after, _ := os.ReadFile(filepath.Join(out, "key.pem"))
	if string(before) != string(after) {
		t.Error("a refused issue replaced key.pem")
	}
	leftovers, _ := filepath.Glob(filepath.Join(out, ".*tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}
