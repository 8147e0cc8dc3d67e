package certsource

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

func servedSerial(t *testing.T, f *Files) string {
	t.Helper()
	c, err := f.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.String()
}

type reloadLog struct {
	mu   sync.Mutex
	errs []error
}

func (r *reloadLog) hook(_ string, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *reloadLog) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs[len(r.errs)-1]
}

func TestFilesLoadsAndReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	first := ca.Issue(t, testpki.Leaf{})
	files := first.WriteFiles(t, dir)
	log := &reloadLog{}
	f, err := NewFiles(files.Cert, files.Key, FilesOptions{OnReload: log.hook})
	if err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, f); got != first.Cert.SerialNumber.String() {
		t.Fatalf("served %s, want the first certificate", got)
	}
	second := ca.Issue(t, testpki.Leaf{})
	writeAtomically(t, files.Cert, second.ChainPEM())
	writeAtomically(t, files.Key, second.KeyPEM(t))
	f.reloadIfChanged()
	if got := servedSerial(t, f); got != second.Cert.SerialNumber.String() {
		t.Errorf("after the change served %s, want the second certificate", got)
	}
	if err := log.last(); err != nil {
		t.Errorf("reload reported %v", err)
	}
}

func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Kubernetes mounts a secret as name -> ..data/name, ..data -> ..TIMESTAMP,
// and swaps the ..data link atomically.
func TestFilesFollowsSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	first, second := ca.Issue(t, testpki.Leaf{}), ca.Issue(t, testpki.Leaf{})
	v1, v2 := filepath.Join(dir, "..v1"), filepath.Join(dir, "..v2")
	for _, v := range []string{v1, v2} {
		if err := os.Mkdir(v, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writePair(t, v1, first.ChainPEM(), first.KeyPEM(t))
	writePair(t, v2, second.ChainPEM(), second.KeyPEM(t))
	data := filepath.Join(dir, "..data")
	must(t, os.Symlink("..v1", data))
	must(t, os.Symlink("..data/tls.crt", filepath.Join(dir, "tls.crt")))
	must(t, os.Symlink("..data/tls.key", filepath.Join(dir, "tls.key")))
	f, err := NewFiles(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), FilesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, f); got != first.Cert.SerialNumber.String() {
		t.Fatal("first pair not served")
	}
	// Swap the link the way kubelet does: new link, rename over the old.
	must(t, os.Symlink("..v2", data+".tmp"))
	must(t, os.Rename(data+".tmp", data))
	f.reloadIfChanged()
	if got := servedSerial(t, f); got != second.Cert.SerialNumber.String() {
		t.Errorf("after the symlink swap served %s, want the second pair", got)
	}
}

func writePair(t *testing.T, dir string, cert, key []byte) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, "tls.crt"), cert, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFilesKeepsOldPairWhenNewOneIsBroken(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	good := ca.Issue(t, testpki.Leaf{})
	other := ca.Issue(t, testpki.Leaf{})
	inter := ca.NewIntermediate(t)
	chained := inter.Issue(t, testpki.Leaf{})
	expired := testpki.Expired(t)
	cases := []struct {
		name      string
		cert, key []byte
		wantErr   string
	}{
		{"key of another certificate", other.ChainPEM(), good.KeyPEM(t), "do not form a pair"},
		{"empty certificate", nil, good.KeyPEM(t), "empty"},
		{"truncated certificate", good.ChainPEM()[:100], good.KeyPEM(t), "do not form a pair"},
		{"expired", testpki.CertsPEM(expired.Chain...), testpki.KeyPEM(t, expired.Key), "expired on"},
		{"intermediate in the wrong order", reorder(chained), chained.KeyPEM(t), "do not form a pair"},
		{"leaf with a foreign intermediate", append(chained.CertPEM(), testpki.CertsPEM(testpki.NewCA(t, testpki.ECDSAP256).NewIntermediate(t).Root().Cert)...), chained.KeyPEM(t), "chain does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := good.WriteFiles(t, dir)
			log := &reloadLog{}
			f, err := NewFiles(files.Cert, files.Key, FilesOptions{OnReload: log.hook})
			if err != nil {
				t.Fatal(err)
			}
			writeAtomically(t, files.Cert, tc.cert)
			writeAtomically(t, files.Key, tc.key)
			f.reloadIfChanged()
			if got := servedSerial(t, f); got != good.Cert.SerialNumber.String() {
				t.Errorf("a broken pair replaced the good one")
			}
			if err := log.last(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("reload error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

// reorder puts the intermediate before the leaf.
func reorder(is *testpki.Issued) []byte {
	var b bytes.Buffer
	b.Write(testpki.CertsPEM(is.Intermediates...))
	b.Write(is.CertPEM())
	return b.Bytes()
}

func TestNewFilesFailsOnBrokenFirstLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := NewFiles(filepath.Join(dir, "missing.crt"), filepath.Join(dir, "missing.key"), FilesOptions{})
	if err == nil || !strings.Contains(err.Error(), "read certificate") {
		t.Errorf("err = %v, want a read error naming the certificate", err)
	}
}

func TestFilesChainAgainstRoots(t *testing.T) {
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	is := ca.NewIntermediate(t).Issue(t, testpki.Leaf{})
	now := time.Now()
	if _, err := ParsePair(is.ChainPEM(), is.KeyPEM(t), ca.Pool(), now); err != nil {
		t.Errorf("complete chain against its root: %v", err)
	}
	if _, err := ParsePair(is.CertPEM(), is.KeyPEM(t), ca.Pool(), now); err == nil {
		t.Error("a leaf without its intermediate verified against the root")
	}
	if _, err := ParsePair(is.ChainPEM(), is.KeyPEM(t), testpki.NewCA(t, testpki.ECDSAP256).Pool(), now); err == nil {
		t.Error("a chain verified against a foreign root")
	}
}

func TestFilesRunPicksUpChanges(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, testpki.ECDSAP256)
	first, second := ca.Issue(t, testpki.Leaf{}), ca.Issue(t, testpki.Leaf{})
	files := first.WriteFiles(t, dir)
	reloaded := make(chan struct{}, 4)
	f, err := NewFiles(files.Cert, files.Key, FilesOptions{PollInterval: 10 * time.Millisecond,
		OnReload: func(string, error) {
			select {
			case reloaded <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	<-reloaded // the initial load
	ctx := t.Context()
	go f.Run(ctx)
	writeAtomically(t, files.Key, second.KeyPEM(t))
	writeAtomically(t, files.Cert, second.ChainPEM())
	deadline := time.After(10 * time.Second)
	for servedSerial(t, f) != second.Cert.SerialNumber.String() {
		select {
		case <-reloaded:
		case <-deadline:
			t.Fatal("the watcher did not pick up the new pair within 10s")
		}
	}
}
