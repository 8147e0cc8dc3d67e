package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFiles walks testdata: every good_*.yaml must load, every bad_*.yaml
// must fail with each error named in its "# want:" lines, and no other.
func TestFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, path := range paths {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(name, data)
			switch {
			case strings.HasPrefix(name, "good_"):
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
			case strings.HasPrefix(name, "bad_"):
				if err == nil {
					t.Fatal("want errors, got none")
				}
				got := err.Error()
				var wants []string
				for _, line := range strings.Split(string(data), "\n") {
					if w, ok := strings.CutPrefix(line, "# want: "); ok {
						wants = append(wants, w)
					}
				}
				if len(wants) == 0 && len(data) > 0 {
					t.Fatal("bad file has no # want: lines")
				}
				for _, w := range wants {
					if !strings.Contains(got, w) {
						t.Errorf("missing error %q in:\n%s", w, got)
					}
				}
				if n := strings.Count(got, "\n") + 1; len(wants) > 0 && n != len(wants) {
					t.Errorf("got %d errors, want %d:\n%s", n, len(wants), got)
				}
			default:
				t.Fatalf("test file %s must be named good_* or bad_*", name)
			}
		})
	}
}

func TestMergeKeysAndValues(t *testing.T) {
	data, err := os.ReadFile("testdata/good_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("good_full.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Sites[0].Routes[0]
	if r.Path != "/" || len(r.Upstreams) != 2 || r.Balance != "least_conn" {
		t.Errorf("merged route = %+v, want path / with 2 upstreams and least_conn", r)
	}
	if f.HSTS.MaxAge == nil || *f.HSTS.MaxAge != 730*24*time.Hour {
		t.Errorf("hsts.max_age = %v, want 730 days", f.HSTS.MaxAge)
	}
	if got := f.Sites[1].Pos("routes").Line; got != 27 {
		t.Errorf("position of sites[1].routes is line %d, want 27", got)
	}
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// Aliases multiply: 10 sites x 100 routes x 100 upstreams is a million
	// values from a file of a few kilobytes.
	var b strings.Builder
	b.WriteString("x-u: &u [")
	for i := range 100 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "\"http://127.0.0.1:%d\"", 9000+i)
	}
	b.WriteString("]\nx-r: &r {path: /, upstreams: *u}\nx-rs: &rs [")
	for i := range 100 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*r")
	}
	b.WriteString("]\nx-s: &s {hosts: [a.example], routes: *rs}\nsites: [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n")
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("want the expansion limit error, got %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "90d": 90 * 24 * time.Hour, "1h30m": 90 * time.Minute, "0d": 0,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-5s", "12", "1y", "999999999d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want an error", in)
		}
	}
}
