// Package testpki mints throwaway certificate authorities and leaf
// certificates in memory for tests: good chains for every key type tlsgate
// supports, and named bad fixtures (expired, wrong host, SHA-1 signed, ...)
// that each really have the one defect their name promises.
//
// Nothing here is for production: RSA keys are fixed and reused across
// fixtures to keep tests fast, and the package calls t.Fatal on any failure.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
)

// KeyType names a key algorithm and size. The zero value means ECDSAP256.
type KeyType int

// Key types. RSA1024 exists only for the weak-key fixture: Go 1.24 and later
// still accept 1024-bit RSA (only keys below 1024 bits need GODEBUG
// rsa1024min=0), so no special setting is needed.
const (
	ECDSAP256 KeyType = iota
	ECDSAP384
	RSA2048
	RSA4096
	RSA1024
	Ed25519
)

// KeyTypes lists every key type, for table-driven tests.
var KeyTypes = []KeyType{ECDSAP256, ECDSAP384, RSA2048, RSA4096, RSA1024, Ed25519}

// GoodKeyTypes lists the key types a modern verifier accepts (all but RSA1024).
var GoodKeyTypes = []KeyType{ECDSAP256, ECDSAP384, RSA2048, RSA4096, Ed25519}

func (k KeyType) String() string {
	switch k {
	case ECDSAP256:
		return "ECDSA-P256"
	case ECDSAP384:
		return "ECDSA-P384"
	case RSA2048:
		return "RSA-2048"
	case RSA4096:
		return "RSA-4096"
	case RSA1024:
		return "RSA-1024"
	case Ed25519:
		return "Ed25519"
	}
	return fmt.Sprintf("KeyType(%d)", int(k))
}

func (k KeyType) rsaBits() int {
	switch k {
	case RSA2048:
		return 2048
	case RSA4096:
		return 4096
	case RSA1024:
		return 1024
	}
	return 0
}

// RSA keys come from a fixed set embedded in testdata/keys (generated once
// with openssl genpkey): generating a 4096-bit key costs seconds, more under
// -race, and every package's tests build chains. Keys are handed out
// round-robin; each size has more keys than the longest chain (root,
// intermediate, leaf), so one chain never repeats a key when built by one
// goroutine. The files say "TESTING KEY" so that secret scanners do not
// mistake them for real keys; they protect nothing.
//
//go:embed testdata/keys/*.pem
var keyFiles embed.FS

type rsaPool struct {
	once sync.Once
	mu   sync.Mutex
	keys []*rsa.PrivateKey
	next int
	err  error
}

var rsaPools = map[int]*rsaPool{1024: {}, 2048: {}, 4096: {}}

func (p *rsaPool) get(bits int) (*rsa.PrivateKey, error) {
	p.once.Do(func() { p.keys, p.err = loadRSAKeys(bits) })
	if p.err != nil {
		return nil, p.err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.keys[p.next%len(p.keys)]
	p.next++
	return k, nil
}

func loadRSAKeys(bits int) ([]*rsa.PrivateKey, error) {
	names, err := fs.Glob(keyFiles, fmt.Sprintf("testdata/keys/rsa%d-*.pem", bits))
	if err != nil || len(names) < 3 {
		return nil, fmt.Errorf("testpki: want at least 3 embedded RSA-%d keys, found %d (%v)", bits, len(names), err)
	}
	var keys []*rsa.PrivateKey
	for _, n := range names {
		b, err := keyFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode([]byte(strings.ReplaceAll(string(b), "TESTING KEY", "PRIVATE KEY")))
		if block == nil {
			return nil, fmt.Errorf("testpki: %s: no PEM block", n)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("testpki: %s: %w", n, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok || rk.N.BitLen() != bits {
			return nil, fmt.Errorf("testpki: %s is not an RSA-%d key", n, bits)
		}
		keys = append(keys, rk)
	}
	return keys, nil
}

// NewKey returns a private key of type k. ECDSA and Ed25519 keys are always
// fresh; RSA keys come from a small embedded set (see keyFiles).
func NewKey(t testing.TB, k KeyType) crypto.Signer {
	t.Helper()
	key, err := newKey(k)
	if err != nil {
		t.Fatalf("testpki: generate %v key: %v", k, err)
	}
	return key
}

func newKey(k KeyType) (crypto.Signer, error) {
	switch k {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048, RSA4096, RSA1024:
		return rsaPools[k.rsaBits()].get(k.rsaBits())
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unknown key type %d", int(k))
}
