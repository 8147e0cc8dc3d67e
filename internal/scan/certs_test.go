package scan

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testCA is a throwaway root with one intermediate, minted once per test
// binary: RSA key generation is the slow part of these tests.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

var (
	caOnce   sync.Once
	sharedCA *testCA
	caErr    error
)

func rsaKey(bits int) (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, bits) }

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	caOnce.Do(func() {
		ca := &testCA{}
		rk, err := rsaKey(2048)
		if err != nil {
			caErr = err
			return
		}
		ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			caErr = err
			return
		}
		now := time.Now()
		rt := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tlsgate scan test root"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, rt, rt, rk.Public(), rk)
		if err != nil {
			caErr = err
			return
		}
		ca.root, _ = x509.ParseCertificate(der)
		it := &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tlsgate scan test intermediate"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err = x509.CreateCertificate(rand.Reader, it, ca.root, ik.Public(), rk)
		if err != nil {
			caErr = err
			return
		}
		ca.inter, _ = x509.ParseCertificate(der)
		ca.rootKey, ca.interKey = rk, ik
		sharedCA = ca
	})
	if caErr != nil {
		t.Fatalf("minting the test CA: %v", caErr)
	}
	return sharedCA
}

// leafSpec says how a test leaf differs from a good one.
type leafSpec struct {
	names    []string
	expired  bool
	keyBits  int // RSA key size, default 2048
	noInter  bool
	selfSign bool
}

// leafFiles are the PEM files a server loads.
type leafFiles struct {
	cert, key, chain, root string // chain: leaf + intermediate (or leaf only)
	inter                  string // the intermediate alone, empty when not served
	leaf                   *x509.Certificate
}

var (
	keyCache   = map[int]*rsa.PrivateKey{}
	keyCacheMu sync.Mutex
)

func cachedRSA(t testing.TB, bits int) *rsa.PrivateKey {
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k := keyCache[bits]; k != nil {
		return k
	}
	k, err := rsaKey(bits)
	if err != nil {
		t.Fatal(err)
	}
	keyCache[bits] = k
	return k
}

func (ca *testCA) issue(t testing.TB, dir string, sp leafSpec) leafFiles {
	t.Helper()
	if sp.keyBits == 0 {
		sp.keyBits = 2048
	}
	if len(sp.names) == 0 {
		sp.names = []string{"localhost"}
	}
	key := cachedRSA(t, sp.keyBits)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: sp.names[0]},
		DNSNames: sp.names, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if sp.expired {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-60*24*time.Hour), now.Add(-30*24*time.Hour)
	}
	parent, signer := ca.inter, ca.interKey
	if sp.selfSign {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	f := leafFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), chain: filepath.Join(dir, "chain.pem"), root: filepath.Join(dir, "root.pem"), leaf: leaf}
	writePEM(t, f.cert, "CERTIFICATE", der)
	chain := [][]byte{der}
	if !sp.noInter && !sp.selfSign {
		chain = append(chain, ca.inter.Raw)
	}
	writePEM(t, f.chain, "CERTIFICATE", chain...)
	if len(chain) > 1 {
		f.inter = filepath.Join(dir, "inter.pem")
		writePEM(t, f.inter, "CERTIFICATE", chain[1:]...)
	}
	writePEM(t, f.root, "CERTIFICATE", ca.root.Raw)
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, f.key, "PRIVATE KEY", kd)
	return f
}

func writePEM(t testing.TB, path, typ string, blocks ...[]byte) {
	t.Helper()
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}
