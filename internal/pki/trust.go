package pki

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrFingerprintMismatch means a fetched root is not the one whose
// fingerprint was given.
var ErrFingerprintMismatch = errors.New("fingerprint mismatch")

// maxRootSize bounds a downloaded root; a PEM certificate is a few KB.
const maxRootSize = 64 << 10

// NormalizeFingerprint accepts a SHA-256 fingerprint in hex with or without
// colons, any case, and returns it lowercase without separators.
func NormalizeFingerprint(s string) (string, error) {
	fp := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q is not a SHA-256 in hex (64 hex digits, colons allowed)", s)
	}
	return fp, nil
}

// Bootstrap fetches the root from a tlsgate ca serve at baseURL and accepts
// it only if its SHA-256 fingerprint is the one given out of band, it is a
// CA certificate and it signed itself. It returns the root in PEM.
func Bootstrap(ctx context.Context, baseURL, fingerprint string) ([]byte, *x509.Certificate, error) {
	fp, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u := strings.TrimRight(baseURL, "/") + "/root/" + fp
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("--url %q: %w", baseURL, err)
	}
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch root from %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetch root from %s: %s (is the fingerprint right, and is it tlsgate ca serve?)", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRootSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch root from %s: %w", u, err)
	}
	if len(body) > maxRootSize {
		return nil, nil, fmt.Errorf("%s sent more than %d bytes; not a root certificate", u, maxRootSize)
	}
	root, err := ParseCertificatePEM(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", u, err)
	}
	if got := Fingerprint(root); got != fp {
		return nil, nil, fmt.Errorf("the root served by %s has fingerprint %s, not %s: refusing it (someone may be in the path): %w", baseURL, got, fp, ErrFingerprintMismatch)
	}
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		return nil, nil, fmt.Errorf("the certificate served by %s is not a self-signed CA certificate", baseURL)
	}
	return pemCert(root.Raw), root, nil
}

// SaveBootstrappedRoot stores a root under <home>/roots/<fingerprint>.pem
// and returns the path.
func SaveBootstrappedRoot(home string, root *x509.Certificate) (string, error) {
	dir := filepath.Join(home, "roots")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, Fingerprint(root)+".pem")
	return path, writeFileAtomic(path, pemCert(root.Raw), 0o644)
}

// SystemTrust installs roots into a Debian-style system store: a .crt file
// in Dir, then Update run to rebuild /etc/ssl/certs.
type SystemTrust struct {
	Dir    string   // default /usr/local/share/ca-certificates
	Update []string // default update-ca-certificates (untrust adds --fresh)
	DryRun bool
}

// TrustAction is one step Trust or Untrust took (or would take).
type TrustAction string

func (t SystemTrust) dir() string {
	if t.Dir != "" {
		return t.Dir
	}
	return "/usr/local/share/ca-certificates"
}

func (t SystemTrust) update(extra ...string) []string {
	cmd := t.Update
	if len(cmd) == 0 {
		cmd = []string{"update-ca-certificates"}
	}
	return append(append([]string(nil), cmd...), extra...)
}

// TrustFileName is the file a root is installed as, named after the
// fingerprint so that untrust finds exactly it.
func TrustFileName(root *x509.Certificate) string {
	return "tlsgate-" + Fingerprint(root)[:16] + ".crt"
}

// Trust installs root. It says what it did, or would do with DryRun.
func (t SystemTrust) Trust(ctx context.Context, root *x509.Certificate) ([]TrustAction, error) {
	path := filepath.Join(t.dir(), TrustFileName(root))
	cmd := t.update()
	acts := []TrustAction{TrustAction("write " + path), TrustAction("run " + strings.Join(cmd, " "))}
	if t.DryRun {
		return acts, nil
	}
	if err := os.MkdirAll(t.dir(), 0o755); err != nil {
		return nil, t.permission(err)
	}
	if err := writeFileAtomic(path, pemCert(root.Raw), 0o644); err != nil {
		return nil, t.permission(err)
	}
	return acts, t.run(ctx, cmd)
}

// Untrust removes what Trust installed.
func (t SystemTrust) Untrust(ctx context.Context, root *x509.Certificate) ([]TrustAction, error) {
	path := filepath.Join(t.dir(), TrustFileName(root))
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not installed: nothing to remove", path)
	}
	cmd := t.update("--fresh")
	acts := []TrustAction{TrustAction("remove " + path), TrustAction("run " + strings.Join(cmd, " "))}
	if t.DryRun {
		return acts, nil
	}
	if err := os.Remove(path); err != nil {
		return nil, t.permission(err)
	}
	return acts, t.run(ctx, cmd)
}

func (t SystemTrust) permission(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: changing the system trust store needs root; run it with sudo, or add --dry-run to see what it would do", err)
	}
	return err
}

func (t SystemTrust) run(ctx context.Context, cmd []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).CombinedOutput()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not found: install the ca-certificates package (apt-get install ca-certificates)", cmd[0])
		}
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
