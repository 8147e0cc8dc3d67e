package pki

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// KeyType names a key algorithm and size as the command line spells it.
type KeyType string

// The key types tlsgate generates and accepts.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	Ed25519   KeyType = "ed25519"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	RSA4096   KeyType = "rsa-4096"
)

// KeyTypes lists every supported key type, the default first.
var KeyTypes = []KeyType{ECDSAP256, ECDSAP384, Ed25519, RSA2048, RSA3072, RSA4096}

// ParseKeyType checks a --key-type value.
func ParseKeyType(s string) (KeyType, error) {
	for _, k := range KeyTypes {
		if string(k) == strings.ToLower(s) {
			return k, nil
		}
	}
	names := make([]string, len(KeyTypes))
	for i, k := range KeyTypes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown key type %q; expected one of %s", s, strings.Join(names, ", "))
}

// GenerateKey makes a new private key of type kt.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case ECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, fmt.Errorf("unknown key type %q", kt)
}

// KeyTypeOf names the type of a public key, or returns an error saying why
// the key is not acceptable for a certificate (too small, unknown curve).
func KeyTypeOf(pub crypto.PublicKey) (KeyType, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256, nil
		case elliptic.P384():
			return ECDSAP384, nil
		}
		return "", fmt.Errorf("ECDSA curve %s is not accepted; use P-256 or P-384", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return Ed25519, nil
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		switch {
		case bits < 2048:
			return "", fmt.Errorf("RSA key of %d bits is too small; at least 2048 bits are required", bits)
		case bits > 8192:
			return "", fmt.Errorf("RSA key of %d bits is larger than the 8192 accepted", bits)
		case bits == 2048:
			return RSA2048, nil
		case bits == 3072:
			return RSA3072, nil
		case bits == 4096:
			return RSA4096, nil
		}
		if bits%8 != 0 {
			return "", fmt.Errorf("RSA key of %d bits is not a whole number of bytes", bits)
		}
		return KeyType("rsa-" + strconv.Itoa(bits)), nil
	}
	return "", fmt.Errorf("public key type %T is not accepted; use ECDSA P-256/P-384, Ed25519 or RSA of at least 2048 bits", pub)
}

const (
	plainKeyType     = "PRIVATE KEY"
	encryptedKeyType = "TLSGATE ENCRYPTED PRIVATE KEY"
)

// scryptN, scryptR and scryptP are the work factors for new encrypted keys;
// each file records its own so that they can be raised later.
var scryptN, scryptR, scryptP = 1 << 15, 8, 1

// ErrWrongPassphrase means an encrypted key did not open with the
// passphrase given.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// ErrPassphraseNeeded means a key is encrypted and no passphrase was given.
var ErrPassphraseNeeded = errors.New("key is encrypted and no passphrase was given")

// MarshalKey encodes key as PKCS#8 PEM. With a passphrase, the PKCS#8 bytes
// are sealed with AES-256-GCM under a key derived by scrypt, the KDF
// parameters and salt travelling in the PEM headers and bound as
// additional data.
func MarshalKey(key crypto.Signer, passphrase []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: plainKeyType, Bytes: der}), nil
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	headers := map[string]string{
		"KDF":    fmt.Sprintf("scrypt N=%d r=%d p=%d", scryptN, scryptR, scryptP),
		"Salt":   hex.EncodeToString(salt),
		"Cipher": "AES-256-GCM",
	}
	aead, err := keyAEAD(passphrase, headers)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	headers["Nonce"] = hex.EncodeToString(nonce)
	sealed := aead.Seal(nil, nonce, der, additionalData(headers))
	return pem.EncodeToMemory(&pem.Block{Type: encryptedKeyType, Headers: headers, Bytes: sealed}), nil
}

func additionalData(h map[string]string) []byte {
	return []byte(encryptedKeyType + "\n" + h["KDF"] + "\n" + h["Salt"] + "\n" + h["Cipher"])
}

func keyAEAD(passphrase []byte, h map[string]string) (cipher.AEAD, error) {
	if h["Cipher"] != "AES-256-GCM" {
		return nil, fmt.Errorf("unknown cipher %q", h["Cipher"])
	}
	var n, r, p int
	if _, err := fmt.Sscanf(h["KDF"], "scrypt N=%d r=%d p=%d", &n, &r, &p); err != nil {
		return nil, fmt.Errorf("unknown key derivation %q", h["KDF"])
	}
	// Bound the work and memory (128*N*r bytes) a damaged or hostile file
	// can demand: at most 256 MiB, well above the defaults' 32 MiB.
	if n < 2 || n > 1<<18 || n&(n-1) != 0 || r < 1 || r > 8 || p < 1 || p > 4 {
		return nil, fmt.Errorf("scrypt parameters N=%d r=%d p=%d out of range", n, r, p)
	}
	salt, err := hex.DecodeString(h["Salt"])
	if err != nil || len(salt) < 16 {
		return nil, errors.New("bad salt")
	}
	k, err := scrypt.Key(passphrase, salt, n, r, p, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ParseKey decodes a private key PEM (PKCS#8, PKCS#1 or SEC 1, or
// tlsgate's encrypted form when passphrase is given).
func ParseKey(data, passphrase []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	der := block.Bytes
	switch block.Type {
	case encryptedKeyType:
		if len(passphrase) == 0 {
			return nil, ErrPassphraseNeeded
		}
		aead, err := keyAEAD(passphrase, block.Headers)
		if err != nil {
			return nil, err
		}
		nonce, err := hex.DecodeString(block.Headers["Nonce"])
		if err != nil || len(nonce) != aead.NonceSize() {
			return nil, errors.New("bad nonce")
		}
		der, err = aead.Open(nil, nonce, block.Bytes, additionalData(block.Headers))
		if err != nil {
			return nil, ErrWrongPassphrase
		}
	case plainKeyType, "RSA PRIVATE KEY", "EC PRIVATE KEY":
	default:
		return nil, fmt.Errorf("PEM block is %q, not a private key", block.Type)
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	default:
		key, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, err
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", key)
	}
	return s, nil
}

// checkPrivateFile refuses a key file that others than its owner can read
// or write: a CA key that leaked cannot be un-leaked.
func checkPrivateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("key file %s has mode %04o, readable by group or others: run chmod 600 %s (and consider the key exposed)", path, fi.Mode().Perm(), path)
	}
	return nil
}

// keyFileError says in its own words what a wrapped sentinel error means
// for one key file, without repeating the sentinel's text.
type keyFileError struct {
	msg string
	err error
}

func (e *keyFileError) Error() string { return e.msg }
func (e *keyFileError) Unwrap() error { return e.err }

// readKeyFile loads a CA key after checking its permissions.
func readKeyFile(path string, passphrase []byte) (crypto.Signer, error) {
	if err := checkPrivateFile(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(data, passphrase)
	switch {
	case errors.Is(err, ErrPassphraseNeeded):
		return nil, &keyFileError{msg: fmt.Sprintf("key file %s is encrypted and no passphrase was given: pass --passphrase-file FILE or set TLSGATE_CA_PASSPHRASE", path), err: err}
	case errors.Is(err, ErrWrongPassphrase):
		return nil, fmt.Errorf("key file %s does not open with this passphrase (or the file is damaged): %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// writeFileAtomic writes data to path through a synced temporary file and a
// rename, so a crash leaves either the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
