package cli

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/pki"
	"github.com/tlsgate/tlsgate/internal/store"
)

// fillCA creates a CA in a temporary home holding n leaf records (one real
// certificate's bytes under n serials) and returns the home.
func fillCA(b *testing.B, n int) string {
	b.Helper()
	ctx := context.Background()
	home := filepath.Join(b.TempDir(), "home")
	ca, err := pki.Init(ctx, home, pki.InitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer ca.Close()
	is, err := ca.IssueLeaf(ctx, pki.Request{Profile: pki.ProfileServer, DNS: []string{"api.example.test", "www.example.test"}})
	if err != nil {
		b.Fatal(err)
	}
	const workers = 64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	now := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				sn := pki.SerialString(new(big.Int).SetUint64(uint64(1)<<62 + uint64(i)))
				c := store.Certificate{Serial: sn, Issuer: "intermediate", Profile: "server", Subject: "CN=api.example.test",
					SANs: []string{"api.example.test", "www.example.test"}, NotBefore: now, NotAfter: now.Add(time.Duration(i) * time.Minute), DER: is.Leaf.Raw}
				if err := ca.Store().PutCertificate(ctx, c, store.Event{Action: "issue", Serial: sn}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	return home
}

// BenchmarkCAList100k runs `tlsgate ca list` (open, query, format) over
// 100,000 stored certificates, as text and as JSON.
func BenchmarkCAList100k(b *testing.B) {
	home := fillCA(b, 100000)
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			args := []string{"--home", home, "ca", "list"}
			if format == "json" {
				args = append(args, "--json")
			}
			for b.Loop() {
				if code := Main(context.Background(), args, io.Discard, io.Discard); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}

func TestCAListCountsAndFilters(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	ca, err := pki.Init(ctx, home, pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []time.Duration{10 * 24 * time.Hour, 90 * 24 * time.Hour} {
		if _, err := ca.IssueLeaf(ctx, pki.Request{Profile: pki.ProfileServer, DNS: []string{fmt.Sprintf("h%d.example.test", i)}, Validity: v}); err != nil {
			t.Fatal(err)
		}
	}
	ca.Close()
	var out strings.Builder
	if code := Main(ctx, []string{"--home", home, "ca", "list", "--expiring", "30d"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := out.String(); !strings.Contains(got, "h0.example.test") || strings.Contains(got, "h1.example.test") {
		t.Errorf("--expiring 30d listed:\n%s", got)
	}
}
