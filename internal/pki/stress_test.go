package pki

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
)

// TestTenThousandSerials issues 10,000 certificates and checks that every
// serial is unique and that no byte position of the 16-byte serial is
// constant (a stuck byte would mean less entropy than claimed).
func TestTenThousandSerials(t *testing.T) {
	const n, workers = 10000, 32
	ca, _ := newTestCA(t, InitOptions{})
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	serials := make(chan []byte, n)
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"s.example.test"}, PublicKey: key.Public()})
				if err != nil {
					errc <- err
					return
				}
				serials <- is.Leaf.SerialNumber.FillBytes(make([]byte, 16))
			}
		}()
	}
	wg.Wait()
	close(serials)
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	seen := make(map[string]bool, n)
	var first []byte
	varies := make([]bool, 16)
	for s := range serials {
		if seen[string(s)] {
			t.Fatalf("serial %x issued twice", s)
		}
		seen[string(s)] = true
		if first == nil {
			first = s
		}
		for i := range s {
			if s[i] != first[i] {
				varies[i] = true
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%d serials, want %d", len(seen), n)
	}
	for i, v := range varies {
		if !v {
			t.Errorf("byte %d of the serial is the same in all %d certificates", i, n)
		}
	}
	list, err := ca.List(ctx, ListOptions{})
	if err != nil || len(list) != n {
		t.Fatalf("store holds %d certificates, want %d (%v)", len(list), n, err)
	}
}

// TestConcurrentIssuance has many goroutines issue at once: every
// certificate is recorded, once, with its audit entry.
func TestConcurrentIssuance(t *testing.T) {
	const workers, each = 32, 20
	ca, _ := newTestCA(t, InitOptions{})
	ctx := context.Background()
	var mu sync.Mutex
	got := map[string]*Issued{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				is, err := ca.IssueLeaf(ctx, Request{Profile: ProfilePeer, DNS: []string{fmt.Sprintf("w%d-%d.example.test", w, i)}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if got[is.Serial] != nil {
					t.Errorf("serial %s returned twice", is.Serial)
				}
				got[is.Serial] = is
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != workers*each {
		t.Fatalf("%d distinct certificates, want %d", len(got), workers*each)
	}
	for sn, is := range got {
		info, err := ca.Lookup(ctx, is.Leaf.SerialNumber)
		if err != nil || !bytes.Equal(info.DER, is.Leaf.Raw) {
			t.Fatalf("certificate %s not recorded as issued: %v", sn, err)
		}
	}
	evs, err := ca.Store().Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	issues := 0
	for _, ev := range evs {
		if ev.Action == "issue" {
			issues++
		}
	}
	if issues != workers*each {
		t.Errorf("%d issue entries in the audit log, want %d", issues, workers*each)
	}
}

// crashChildEnv tells the test binary to act as the issuing child of
// TestCrashDuringIssuance.
const crashChildEnv = "TLSGATE_PKI_CRASH_CHILD"

// TestCrashChild is not a test on its own: run by TestCrashDuringIssuance
// with crashChildEnv set, it issues certificates in a loop, writing each to
// disk after the CA returned it, until it is killed (or 30 s pass).
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("helper process for TestCrashDuringIssuance")
	}
	home, out, _ := strings.Cut(spec, "\n")
	ctx := context.Background()
	ca, err := Open(ctx, home, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{fmt.Sprintf("c%d.example.test", i)}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if err := writeFileAtomic(filepath.Join(out, is.Serial+".pem"), is.CertPEM, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
	}
	os.Exit(0)
}

// TestCrashDuringIssuance kills an issuing process with SIGKILL at random
// moments, many times, and checks after each kill that the database opens
// cleanly, passes SQLite's integrity check, and holds every certificate
// that reached the disk; at the end, that no serial was used twice.
func TestCrashDuringIssuance(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("inside the child")
	}
	const rounds = 8
	ca, home := newTestCA(t, InitOptions{})
	ca.Close()
	out := t.TempDir()
	ctx := context.Background()
	for round := range rounds {
		before := countFiles(t, out)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+home+"\n"+out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child issues, then let it run a random while.
		waitUntil := time.Now().Add(20 * time.Second)
		for countFiles(t, out) == before && time.Now().Before(waitUntil) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended by itself (%v): %s", round, err, stderr.String())
		}
		checkCrashState(t, ctx, home, out, round)
	}
	if n := countFiles(t, out); n < rounds {
		t.Fatalf("only %d certificates reached the disk in %d rounds", n, rounds)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func checkCrashState(t *testing.T, ctx context.Context, home, out string, round int) {
	t.Helper()
	st, err := store.OpenSQLite(ctx, filepath.Join(Dir(home), databaseFile))
	if err != nil {
		t.Fatalf("round %d: database does not open after SIGKILL: %v", round, err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.pem"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCertificatePEM(data)
		if err != nil {
			t.Fatalf("round %d: %s is damaged: %v", round, f, err)
		}
		rec, err := st.Certificate(ctx, SerialString(c.SerialNumber))
		if err != nil {
			t.Fatalf("round %d: certificate %s is on disk but not in the store: %v", round, filepath.Base(f), err)
		}
		if !bytes.Equal(rec.DER, c.Raw) {
			t.Fatalf("round %d: store holds different bytes for serial %s", round, rec.Serial)
		}
	}
	all, err := st.Certificates(ctx, store.ListFilter{WithDER: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range all {
		cert, err := ParseCertificatePEM(pemCert(c.DER))
		if err != nil {
			t.Fatalf("round %d: stored certificate %s unreadable: %v", round, c.Serial, err)
		}
		sn := SerialString(cert.SerialNumber)
		if sn != c.Serial || seen[sn] {
			t.Fatalf("round %d: serial %s recorded twice or under another key", round, sn)
		}
		seen[sn] = true
	}
}
