package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"path/filepath"
	"time"
)

// Lifetimes of what the CA publishes. A CRL or OCSP answer is replaced well
// before its nextUpdate, so clients never see a stale one.
const (
	crlLifetime     = 24 * time.Hour
	rootCRLLifetime = 30 * 24 * time.Hour
)

// RevocationList is a signed CRL and when it must be replaced.
type RevocationList struct {
	DER        []byte
	ThisUpdate time.Time
	NextUpdate time.Time
	Entries    int
}

// RevocationList signs the intermediate's CRL: every certificate it issued
// that is revoked, with reason and time.
func (ca *CA) RevocationList(ctx context.Context) (*RevocationList, error) {
	if ca.interKey == nil {
		return nil, errReadOnly
	}
	return ca.signCRL(ctx, issuerIntermed, ca.inter, ca.interKey, crlLifetime)
}

// RootRevocationList signs the root's CRL (revoked intermediates) with the
// root key, loaded from disk for this and dropped again.
func (ca *CA) RootRevocationList(ctx context.Context) (*RevocationList, error) {
	key, err := ca.rootKey()
	if err != nil {
		return nil, err
	}
	return ca.signCRL(ctx, issuerRoot, ca.root, key, rootCRLLifetime)
}

func (ca *CA) rootKey() (crypto.Signer, error) {
	key, err := readKeyFile(filepath.Join(ca.dir, rootKeyFile), ca.passphrase)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(key.Public(), ca.root.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s: restore the pair from a backup", filepath.Join(ca.dir, rootKeyFile), filepath.Join(ca.dir, rootCertFile))
	}
	return key, nil
}

func (ca *CA) signCRL(ctx context.Context, issuerName string, issuer *x509.Certificate, key crypto.Signer, life time.Duration) (*RevocationList, error) {
	revs, err := ca.store.Revocations(ctx, issuerName)
	if err != nil {
		return nil, err
	}
	now := ca.now().UTC().Truncate(time.Second)
	tmpl := &x509.RevocationList{
		// CRL numbers must grow; a nanosecond clock does that across
		// processes without a shared counter.
		Number:     big.NewInt(now.UnixNano() + int64(len(revs))),
		ThisUpdate: now,
		NextUpdate: now.Add(life),
	}
	for _, r := range revs {
		sn, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, fmt.Errorf("store holds a malformed serial %q", r.Serial)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: sn, RevocationTime: r.RevokedAt, ReasonCode: r.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("sign %s CRL: %w", issuerName, err)
	}
	return &RevocationList{DER: der, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate, Entries: len(revs)}, nil
}

// revocationCount is how a publisher notices a revocation made by another
// process: the set only grows.
func (ca *CA) revocationCount(ctx context.Context, issuer string) (int, error) {
	revs, err := ca.store.Revocations(ctx, issuer)
	return len(revs), err
}
