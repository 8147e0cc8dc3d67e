package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"path/filepath"

	"github.com/tlsgate/tlsgate/internal/store"
)

// oidOCSPNoCheck marks a delegated OCSP signer whose own revocation status
// clients need not check (RFC 6960 section 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// newOCSPSigner issues a delegated OCSP-signing certificate from the
// intermediate and records it. The intermediate's key then signs no OCSP
// response itself.
func (ca *CA) newOCSPSigner(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	// x/crypto/ocsp signs with RSA and ECDSA only; an Ed25519 CA certifies
	// a P-256 responder key instead.
	set := ca.Settings()
	kt := set.KeyType
	if kt == Ed25519 {
		kt = ECDSAP256
	}
	key, err := GenerateKey(kt)
	if err != nil {
		return nil, nil, err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{set.Name}, CommonName: set.Name + " OCSP Responder"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(-backdate + ocspSignerLife - 1),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}}},
	}
	if tmpl.NotAfter.After(ca.inter.NotAfter) {
		tmpl.NotAfter = ca.inter.NotAfter
	}
	if tmpl.SerialNumber, err = NewSerial(); err != nil {
		return nil, nil, err
	}
	if tmpl.SubjectKeyId, err = subjectKeyID(key.Public()); err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, key.Public(), ca.interKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create OCSP signer: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	rec := recordOf(cert, issuerIntermed, "ocsp")
	if err := ca.store.PutCertificate(ctx, rec, store.Event{Time: now, Actor: ca.actor, Action: "ocsp-signer", Serial: rec.Serial, Detail: "delegated OCSP signer until " + cert.NotAfter.UTC().Format("2006-01-02")}); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// ensureOCSPSigner replaces the delegated OCSP signer when it is missing or
// two thirds through its life, writing the new pair atomically.
func (ca *CA) ensureOCSPSigner(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	ca.mu.Lock()
	cert, key := ca.ocspCert, ca.ocspKey
	ca.mu.Unlock()
	if cert != nil && ca.now().Before(RenewAt(cert)) {
		return cert, key, nil
	}
	cert, key, err := ca.newOCSPSigner(ctx)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := MarshalKey(key, ca.passphrase)
	if err != nil {
		return nil, nil, err
	}
	// Key first: a crash between the two writes leaves a new key with the
	// old certificate, which Open rejects as mismatched only for the
	// intermediate; for the OCSP signer it is replaced on next start.
	if err := writeFileAtomic(filepath.Join(ca.dir, ocspKeyFile), keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(filepath.Join(ca.dir, ocspCertFile), pemCert(cert.Raw), 0o644); err != nil {
		return nil, nil, err
	}
	ca.mu.Lock()
	ca.ocspCert, ca.ocspKey = cert, key
	ca.mu.Unlock()
	return cert, key, nil
}
