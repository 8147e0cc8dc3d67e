package scan

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// testCA is a throwaway root with one intermediate from testpki.
type testCA struct {
	root, inter *testpki.CA
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	root := testpki.NewCA(t, testpki.RSA2048)
	return &testCA{root: root, inter: root.NewIntermediate(t)}
}

// leafSpec says how a test leaf differs from a good one.
type leafSpec struct {
	names   []string
	expired bool
	rsa1024 bool
	sha1    bool
	noInter bool // the server sends the leaf without its intermediate
	reorder bool // the server sends the root before the intermediate
}

// leafFiles are the PEM files a server loads.
type leafFiles struct {
	cert, key, chain, root string // chain: leaf + intermediate (or leaf only)
	inter                  string // the intermediate alone, empty when not served
	leaf                   *x509.Certificate
}

func (ca *testCA) issue(t testing.TB, dir string, sp leafSpec) leafFiles {
	t.Helper()
	l := testpki.Leaf{DNS: sp.names, KeyType: testpki.RSA2048, SHA1: sp.sha1}
	if len(l.DNS) == 0 {
		l.DNS = []string{"localhost"}
	}
	if sp.rsa1024 {
		l.KeyType = testpki.RSA1024
	}
	if sp.expired {
		l.NotBefore, l.NotAfter = time.Now().Add(-60*24*time.Hour), time.Now().Add(-30*24*time.Hour)
	}
	is := ca.inter.Issue(t, l)
	fs := is.WriteFiles(t, dir)
	f := leafFiles{cert: fs.Cert, key: fs.Key, chain: fs.Chain, root: fs.Root, leaf: is.Cert}
	if sp.noInter {
		f.chain = fs.Cert
		return f
	}
	f.inter = filepath.Join(dir, "inter.pem")
	extra := is.Intermediates
	if sp.reorder {
		extra = append(append(extra[:0:0], is.Root), is.Intermediates...)
	}
	if err := os.WriteFile(f.inter, testpki.CertsPEM(extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (ca *testCA) pool() *x509.CertPool { return ca.root.Pool() }
