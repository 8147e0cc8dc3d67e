// Package pki is tlsgate's certificate authority engine: a root that signs
// only the intermediate (and its own CRL), an intermediate that issues
// server, client and peer certificates, CSR signing under policy, renewal,
// revocation, CRLs and an OCSP responder. State lives in a data directory
// and a store.Store; keys are files of mode 0600, optionally encrypted.
package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
)

// Files in the CA directory (<home>/ca). See docs/ca.md.
const (
	DirName          = "ca"
	rootCertFile     = "root.pem"
	rootKeyFile      = "root.key"
	interCertFile    = "intermediate.pem"
	interKeyFile     = "intermediate.key"
	ocspCertFile     = "ocsp.pem"
	ocspKeyFile      = "ocsp.key"
	databaseFile     = "ca.db"
	settingsKey      = "ca/settings"
	issuerRoot       = "root"
	issuerIntermed   = "intermediate"
	defaultName      = "tlsgate local CA"
	defaultRootLife  = 10 * 365 * 24 * time.Hour
	defaultInterLife = 5 * 365 * 24 * time.Hour
	ocspSignerLife   = 90 * 24 * time.Hour
)

// Errors callers branch on.
var (
	ErrExists         = errors.New("a CA already exists")
	ErrNotInitialized = errors.New("no CA here")
	ErrUnknownSerial  = errors.New("unknown serial number")
	ErrAlreadyRevoked = errors.New("certificate already revoked")
	ErrPolicy         = errors.New("refused by CA policy")
	ErrBadOption      = errors.New("invalid option")
)

// InitOptions shape a new CA.
type InitOptions struct {
	Name      string   // subject organisation and CN prefix; default "tlsgate local CA"
	KeyType   KeyType  // for root, intermediate and OCSP signer; default ecdsa-p256
	PermitDNS []string // name constraints on the intermediate: DNS suffixes
	PermitIPs []*net.IPNet
	PublicURL string // base URL where `ca serve` is reachable; enables CDP and AIA
	// Passphrase, when set, encrypts the CA's private keys at rest.
	Passphrase []byte
	// RootValidity and IntermediateValidity default to 10 and 5 years.
	RootValidity         time.Duration
	IntermediateValidity time.Duration
	// Store is where the CA keeps its records: the path of an SQLite file
	// or a postgres:// URL that several instances share (see store.Open).
	// Empty means <home>/ca/ca.db. Init records it in the CA directory.
	Store string
}

// Options control how an existing CA is opened.
type Options struct {
	// Passphrase opens encrypted CA keys.
	Passphrase []byte
	// Now replaces the clock (tests).
	Now func() time.Time
	// WithoutKeys opens the CA for reading only (list, show, export): no
	// private key is loaded, so no passphrase is needed; signing fails.
	WithoutKeys bool
	// Store overrides the store that Init recorded (for instance the same
	// database under another role); it must hold this CA's records.
	Store string
}

// Settings are the CA-wide choices recorded at init.
type Settings struct {
	Name      string    `json:"name"`
	KeyType   KeyType   `json:"key_type"`
	PublicURL string    `json:"public_url,omitempty"`
	PermitDNS []string  `json:"permit_dns,omitempty"`
	PermitIPs []string  `json:"permit_ips,omitempty"`
	Created   time.Time `json:"created"`
	// Root is the SHA-256 fingerprint of the root certificate: it ties
	// the store to this CA (empty in stores of older tlsgate versions).
	Root string `json:"root,omitempty"`
}

// CA is an opened certificate authority. It is safe for concurrent use.
type CA struct {
	home, dir  string
	store      store.Store
	passphrase []byte
	now        func() time.Time
	actor      string

	root, inter       *x509.Certificate
	rootPEM, interPEM []byte
	interKey          crypto.Signer
	rootPool          *x509.CertPool
	interPool         *x509.CertPool

	mu       sync.Mutex
	settings Settings
	ocspCert *x509.Certificate
	ocspKey  crypto.Signer

	// revocations counts the revocations made through this CA, so that
	// its RevocationCaches forget their verdicts at once.
	revocations atomic.Uint64
}

// Dir returns the CA directory inside home.
func Dir(home string) string { return filepath.Join(home, DirName) }

// Exists reports whether home holds a CA.
func Exists(home string) bool {
	_, err := os.Stat(filepath.Join(Dir(home), interCertFile))
	return err == nil
}

// checkDirs refuses a data directory that others can write (they could swap
// the CA) and a CA directory that others can read.
func checkDirs(home string) error {
	for _, c := range []struct {
		path string
		mask os.FileMode
	}{{home, 0o022}, {Dir(home), 0o077}} {
		fi, err := os.Stat(c.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", c.path)
		}
		if fi.Mode().Perm()&c.mask != 0 {
			return fmt.Errorf("data directory %s has unsafe mode %04o (others may read or change the CA): run chmod 700 %s", c.path, fi.Mode().Perm(), c.path)
		}
	}
	return nil
}

func actorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s (pid %d)", name, host, os.Getpid())
}

// Init creates a new CA in home: root, intermediate, OCSP signer, store. The
// CA directory appears atomically (built aside, then renamed), so a crash
// never leaves half a CA and two racing inits yield one CA and ErrExists.
func Init(ctx context.Context, home string, o InitOptions) (*CA, error) {
	if Exists(home) {
		return nil, fmt.Errorf("%s: %w; use it, or pass another --home", Dir(home), ErrExists)
	}
	if o.Name == "" {
		o.Name = defaultName
	}
	if o.KeyType == "" {
		o.KeyType = ECDSAP256
	}
	if o.RootValidity == 0 {
		o.RootValidity = defaultRootLife
	}
	if o.IntermediateValidity == 0 {
		o.IntermediateValidity = defaultInterLife
	}
	if o.IntermediateValidity > o.RootValidity {
		return nil, fmt.Errorf("%w: intermediate validity %v exceeds root validity %v", ErrBadOption, o.IntermediateValidity, o.RootValidity)
	}
	if o.PublicURL != "" {
		if err := checkPublicURL(o.PublicURL); err != nil {
			return nil, fmt.Errorf("%w: --public-url: %v", ErrBadOption, err)
		}
	}
	for _, d := range o.PermitDNS {
		if err := checkDNSName(strings.TrimPrefix(d, ".")); err != nil {
			return nil, fmt.Errorf("%w: --permit-dns %q: %v", ErrBadOption, d, err)
		}
	}
	if _, err := ParseKeyType(string(o.KeyType)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := checkDirs(home); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(home, ".ca-init-*")
	if err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	// The default store is built inside the CA directory like the rest;
	// any other is opened where it is and recorded in the directory.
	target, err := absStoreTarget(o.Store)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", o.Store, err)
	}
	if target == filepath.Join(Dir(home), databaseFile) {
		target = ""
	}
	dbTarget := target
	if dbTarget == "" {
		dbTarget = filepath.Join(tmp, databaseFile)
	}
	st, err := store.Open(ctx, dbTarget)
	if err != nil {
		return nil, err
	}
	var locked, claimed, released bool
	// release unlocks and closes the store. Until the CA directory is in
	// place, settings written to a store outside it are withdrawn, so that
	// a failed or lost init does not keep that store for a CA that never
	// came to be.
	release := func(installed bool) {
		if released {
			return
		}
		released = true
		bg := context.WithoutCancel(ctx)
		if claimed && !installed && target != "" {
			st.Delete(bg, settingsKey)
		}
		if locked {
			st.Unlock(bg, initLock)
		}
		st.Close()
	}
	defer release(false)
	if err := st.Lock(ctx, initLock, time.Minute); err != nil {
		return nil, fmt.Errorf("store %s: wait for another ca init: %w", storeName(dbTarget), err)
	}
	locked = true
	switch raw, err := st.Get(ctx, settingsKey); {
	case err == nil:
		var other Settings
		json.Unmarshal(raw, &other)
		return nil, fmt.Errorf("store %s: %w: it holds CA %q (root %s); give ca init another store, or copy that CA's directory to %s to use it", storeName(dbTarget), ErrExists, other.Name, other.rootText(), Dir(home))
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}

	now := time.Now()
	set := Settings{Name: o.Name, KeyType: o.KeyType, PublicURL: strings.TrimRight(o.PublicURL, "/"), PermitDNS: o.PermitDNS, Created: now.UTC()}
	for _, n := range o.PermitIPs {
		set.PermitIPs = append(set.PermitIPs, n.String())
	}

	rootKey, err := GenerateKey(o.KeyType)
	if err != nil {
		return nil, err
	}
	interKey, err := GenerateKey(o.KeyType)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{o.Name}, CommonName: o.Name + " Root"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(-backdate + o.RootValidity - time.Second),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            -1,
	}
	if rootTmpl.SerialNumber, err = NewSerial(); err != nil {
		return nil, err
	}
	if rootTmpl.SubjectKeyId, err = subjectKeyID(rootKey.Public()); err != nil {
		return nil, err
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	root, _ := x509.ParseCertificate(rootDER)

	interTmpl := &x509.Certificate{
		Subject:                     pkix.Name{Organization: []string{o.Name}, CommonName: o.Name + " Intermediate"},
		NotBefore:                   now.Add(-backdate),
		NotAfter:                    now.Add(-backdate + o.IntermediateValidity - time.Second),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLen:                  0,
		MaxPathLenZero:              true,
		PermittedDNSDomains:         o.PermitDNS,
		PermittedIPRanges:           o.PermitIPs,
		PermittedDNSDomainsCritical: len(o.PermitDNS) > 0 || len(o.PermitIPs) > 0,
	}
	if set.PublicURL != "" {
		interTmpl.CRLDistributionPoints = []string{set.PublicURL + "/crl/root.crl"}
		interTmpl.IssuingCertificateURL = []string{set.PublicURL + "/ca/root.cer"}
	}
	if interTmpl.SerialNumber, err = NewSerial(); err != nil {
		return nil, err
	}
	if interTmpl.SubjectKeyId, err = subjectKeyID(interKey.Public()); err != nil {
		return nil, err
	}
	// The root key signs exactly this one certificate (and root CRLs).
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create intermediate certificate: %w", err)
	}
	inter, _ := x509.ParseCertificate(interDER)

	set.Root = Fingerprint(root)
	ca := &CA{home: home, dir: tmp, store: st, passphrase: o.Passphrase, now: time.Now, actor: actorName(),
		root: root, inter: inter, interKey: interKey, settings: set}
	ca.finishLoad()
	for _, c := range []struct {
		cert    *x509.Certificate
		issuer  string
		profile string
	}{{root, issuerRoot, "root"}, {inter, issuerRoot, "intermediate"}} {
		if err := st.PutCertificate(ctx, recordOf(c.cert, c.issuer, c.profile), store.Event{Time: now, Actor: ca.actor, Action: "init", Serial: SerialString(c.cert.SerialNumber), Detail: "created " + c.profile + " CA " + c.cert.Subject.String()}); err != nil {
			return nil, err
		}
	}
	ocspCert, ocspKey, err := ca.newOCSPSigner(ctx)
	if err != nil {
		return nil, err
	}
	// The settings come last: they mark the store as this CA's.
	setJSON, _ := json.Marshal(set)
	if err := st.Put(ctx, settingsKey, setJSON); err != nil {
		return nil, err
	}
	claimed = true
	if target == "" {
		// The database moves with tmp: close it first.
		release(true)
	}

	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{rootCertFile, pemCert(rootDER), 0o644},
		{interCertFile, pemCert(interDER), 0o644},
		{ocspCertFile, pemCert(ocspCert.Raw), 0o644},
	}
	for _, k := range []struct {
		name string
		key  crypto.Signer
	}{{rootKeyFile, rootKey}, {interKeyFile, interKey}, {ocspKeyFile, ocspKey}} {
		data, err := MarshalKey(k.key, o.Passphrase)
		if err != nil {
			return nil, err
		}
		files = append(files, struct {
			name string
			data []byte
			mode os.FileMode
		}{k.name, data, 0o600})
	}
	if target != "" {
		files = append(files, struct {
			name string
			data []byte
			mode os.FileMode
		}{storeFile, []byte(target + "\n"), 0o600})
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(tmp, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	if err := os.Rename(tmp, Dir(home)); err != nil {
		if Exists(home) {
			return nil, fmt.Errorf("%s: %w (created concurrently)", Dir(home), ErrExists)
		}
		return nil, fmt.Errorf("install CA directory %s: %w", Dir(home), err)
	}
	release(true)
	if err := syncDir(home); err != nil {
		return nil, err
	}
	return Open(ctx, home, Options{Passphrase: o.Passphrase})
}

// InitIfMissing opens the CA in home, creating it with o first if there is
// none. It is what `tlsgate serve` uses for its zero-config local CA.
func InitIfMissing(ctx context.Context, home string, o InitOptions) (*CA, error) {
	if !Exists(home) {
		ca, err := Init(ctx, home, o)
		if err == nil || !errors.Is(err, ErrExists) {
			return ca, err
		}
	}
	return Open(ctx, home, Options{Passphrase: o.Passphrase, Store: o.Store})
}

// Open loads the CA in home. It loads the intermediate's key (the issuing
// key) and the OCSP signer; the root key stays on disk until a root CRL is
// signed.
func Open(ctx context.Context, home string, o Options) (*CA, error) {
	dir := Dir(home)
	if !Exists(home) {
		return nil, fmt.Errorf("%s: %w; create one with tlsgate ca init", dir, ErrNotInitialized)
	}
	if err := checkDirs(home); err != nil {
		return nil, err
	}
	ca := &CA{home: home, dir: dir, passphrase: o.Passphrase, now: o.Now, actor: actorName()}
	if ca.now == nil {
		ca.now = time.Now
	}
	var err error
	if ca.root, err = readCertFile(filepath.Join(dir, rootCertFile)); err != nil {
		return nil, err
	}
	if ca.inter, err = readCertFile(filepath.Join(dir, interCertFile)); err != nil {
		return nil, err
	}
	if !o.WithoutKeys {
		if ca.interKey, err = readKeyFile(filepath.Join(dir, interKeyFile), o.Passphrase); err != nil {
			return nil, err
		}
		if !publicKeysEqual(ca.interKey.Public(), ca.inter.PublicKey) {
			return nil, fmt.Errorf("%s does not match %s: restore the pair from a backup", filepath.Join(dir, interKeyFile), filepath.Join(dir, interCertFile))
		}
	}
	if c, err := readCertFile(filepath.Join(dir, ocspCertFile)); err == nil && !o.WithoutKeys {
		k, err := readKeyFile(filepath.Join(dir, ocspKeyFile), o.Passphrase)
		if err != nil {
			return nil, err
		}
		// A mismatched pair (crash during rotation) is replaced when the
		// responder starts.
		if publicKeysEqual(k.Public(), c.PublicKey) {
			ca.ocspCert, ca.ocspKey = c, k
		}
	}
	ca.finishLoad()
	target, err := storeTarget(dir, o.Store)
	if err != nil {
		return nil, err
	}
	name := storeName(target)
	st, err := store.Open(ctx, target)
	if err != nil {
		return nil, err
	}
	ca.store = st
	raw, err := st.Get(ctx, settingsKey)
	if errors.Is(err, store.ErrNotFound) {
		st.Close()
		return nil, fmt.Errorf("store %s: CA settings missing (%w); the store does not belong to the CA in %s: pass the --store that ca init was given", name, err, dir)
	}
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("store %s: read CA settings: %w", name, err)
	}
	if err := json.Unmarshal(raw, &ca.settings); err != nil {
		st.Close()
		return nil, fmt.Errorf("store %s: CA settings unreadable: %w", name, err)
	}
	if err := ca.checkStoreOwner(ctx, name); err != nil {
		st.Close()
		return nil, err
	}
	return ca, nil
}

func (ca *CA) finishLoad() {
	ca.rootPEM = pemCert(ca.root.Raw)
	ca.interPEM = pemCert(ca.inter.Raw)
	ca.rootPool = x509.NewCertPool()
	ca.rootPool.AddCert(ca.root)
	ca.interPool = x509.NewCertPool()
	ca.interPool.AddCert(ca.inter)
}

// Close releases the store.
func (ca *CA) Close() error { return ca.store.Close() }

// Store gives access to the CA's store (for audit listing and tests).
func (ca *CA) Store() store.Store { return ca.store }

// Dir returns the CA directory.
func (ca *CA) Dir() string { return ca.dir }

// Settings returns the CA-wide settings.
func (ca *CA) Settings() Settings {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.settings
}

// SetPublicURL records the base URL where `ca serve` is reachable; the
// certificates issued from now on point their CRL and OCSP links there.
func (ca *CA) SetPublicURL(ctx context.Context, u string) error {
	if err := checkPublicURL(u); err != nil {
		return err
	}
	ca.mu.Lock()
	s := ca.settings
	s.PublicURL = strings.TrimRight(u, "/")
	ca.mu.Unlock()
	raw, _ := json.Marshal(s)
	if err := ca.store.Put(ctx, settingsKey, raw); err != nil {
		return err
	}
	ca.mu.Lock()
	ca.settings = s
	ca.mu.Unlock()
	return ca.store.AppendEvent(ctx, store.Event{Time: ca.now(), Actor: ca.actor, Action: "set-public-url", Detail: s.PublicURL})
}

func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("public URL %q must be an absolute http:// or https:// URL without query, e.g. http://ca.internal:8889", s)
	}
	return nil
}

// Root returns the root certificate.
func (ca *CA) Root() *x509.Certificate { return ca.root }

// Intermediate returns the issuing certificate.
func (ca *CA) Intermediate() *x509.Certificate { return ca.inter }

// RootPEM returns the root certificate in PEM, what clients must trust.
func (ca *CA) RootPEM() []byte { return append([]byte(nil), ca.rootPEM...) }

// ChainPEM returns the intermediate then the root, in PEM.
func (ca *CA) ChainPEM() []byte {
	return append(append([]byte(nil), ca.interPEM...), ca.rootPEM...)
}

// RootPool returns a pool holding only the root, for verifying peers.
func (ca *CA) RootPool() *x509.CertPool { return ca.rootPool.Clone() }

// IntermediatePool returns a pool holding the intermediate, for
// x509.VerifyOptions.Intermediates when a peer sends only its leaf.
func (ca *CA) IntermediatePool() *x509.CertPool { return ca.interPool.Clone() }

// RootFingerprint is the SHA-256 of the root certificate's DER in hex,
// what `ca bootstrap --fingerprint` expects.
func (ca *CA) RootFingerprint() string { return Fingerprint(ca.root) }

// Fingerprint returns the lowercase hex SHA-256 of a certificate's DER.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func readCertFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

// SerialString is the canonical text of a serial: lowercase hex, no leading
// zeros, what `ca list` prints and `ca show` accepts.
func SerialString(n *big.Int) string { return n.Text(16) }

// ParseSerial accepts a serial in hex, with or without colons, 0x prefix or
// leading zeros, in any case.
func ParseSerial(s string) (*big.Int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "0x")
	t = strings.ReplaceAll(t, ":", "")
	n, ok := new(big.Int).SetString(t, 16)
	if !ok || t == "" || n.Sign() <= 0 || len(t) > 40 {
		return nil, fmt.Errorf("serial %q is not a positive hexadecimal number of at most 20 bytes (as tlsgate ca list prints it)", s)
	}
	return n, nil
}

// ParseCertificatePEM returns the first certificate in PEM data.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM CERTIFICATE block found")
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("malformed certificate: %w", err)
			}
			return c, nil
		}
	}
}
