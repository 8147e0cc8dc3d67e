package pki

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCSRVectors walks testdata/csr: every good_*.csr (made by openssl)
// must be signed by a CA constrained to example.test, every bad_*.csr
// refused, and only the good ones recorded.
func TestCSRVectors(t *testing.T) {
	ca, _ := newTestCA(t, InitOptions{PermitDNS: []string{"example.test"}})
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("testdata", "csr", "*.csr"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CSR vectors: %v", err)
	}
	good := 0
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		is, err := ca.SignCSR(ctx, data, SignOptions{Profile: ProfileServer})
		switch {
		case strings.HasPrefix(name, "good_"):
			good++
			if err != nil {
				t.Errorf("%s refused: %v", name, err)
				continue
			}
			opensslVerify(t, ca, is, ProfileServer)
		case strings.HasPrefix(name, "bad_"):
			if err == nil {
				t.Errorf("%s signed as serial %s", name, is.Serial)
			}
		default:
			t.Errorf("%s: vector names start with good_ or bad_", name)
		}
	}
	list, err := ca.List(ctx, ListOptions{})
	if err != nil || len(list) != good {
		t.Errorf("%d certificates recorded, want %d (%v)", len(list), good, err)
	}
}
