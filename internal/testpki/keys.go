// Package testpki mints throwaway certificate authorities and leaf
// certificates in memory for tests: good chains for every key type tlsgate
// supports, and named bad fixtures (expired, wrong host, SHA-1 signed, ...)
// that each really have the one defect their name promises.
//
// Nothing here is for production: keys are reused across fixtures to keep
// tests fast, and the package calls t.Fatal on any failure.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
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

// rsaPoolSize bounds how many distinct RSA keys of each size a test binary
// generates. RSA key generation costs up to seconds for 4096 bits (more under
// -race), so keys are handed out round-robin from a small pool. The pool is
// larger than the longest chain (root, intermediate, leaf), so the
// certificates of one chain never share a key.
const rsaPoolSize = 6

type rsaPool struct {
	mu   sync.Mutex
	keys []*rsa.PrivateKey
	next int
}

var rsaPools = map[int]*rsaPool{1024: {}, 2048: {}, 4096: {}}

func (p *rsaPool) get(bits int) (*rsa.PrivateKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.next % rsaPoolSize
	p.next++
	if i < len(p.keys) {
		return p.keys[i], nil
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	p.keys = append(p.keys, k)
	return k, nil
}

// NewKey returns a private key of type k. ECDSA and Ed25519 keys are always
// fresh; RSA keys may come from a small per-size pool (see rsaPoolSize).
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
