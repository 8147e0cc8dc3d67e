package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// RenewOptions control Renew.
type RenewOptions struct {
	// Key, when set, must be the private key of the old certificate: it
	// proves possession and the new certificate certifies the same key.
	Key crypto.Signer
	// Rekey issues for a fresh key (of KeyType, default the old key's type)
	// instead of the old public key.
	Rekey   bool
	KeyType KeyType
	// Validity defaults to the old certificate's lifetime.
	Validity time.Duration
}

// Renew issues a successor of a certificate this CA issued: same profile,
// names and lifetime, for the same key or a new one. A revoked or foreign
// certificate is refused.
func (ca *CA) Renew(ctx context.Context, old *x509.Certificate, o RenewOptions) (*Issued, error) {
	if o.Rekey && o.Key != nil {
		return nil, errors.New("give either a key to keep or rekey, not both")
	}
	rec, err := ca.store.Certificate(ctx, SerialString(old.SerialNumber))
	if err != nil || !bytes.Equal(rec.DER, old.Raw) {
		return nil, fmt.Errorf("%w: certificate %s (serial %s) was not issued by this CA in %s", ErrUnknownSerial, old.Subject, SerialString(old.SerialNumber), ca.dir)
	}
	if rec.Revoked() {
		return nil, fmt.Errorf("%w: serial %s was revoked on %s (%s); issue a new certificate with tlsgate ca issue instead", ErrPolicy, rec.Serial, rec.RevokedAt.Format("2006-01-02"), Reason(rec.RevocationReason))
	}
	p, err := ParseProfile(rec.Profile)
	if err != nil {
		return nil, fmt.Errorf("serial %s has profile %q and cannot be renewed here", rec.Serial, rec.Profile)
	}
	req := Request{Profile: p, CommonName: old.Subject.CommonName, DNS: old.DNSNames, IPs: old.IPAddresses, Emails: old.EmailAddresses, Validity: o.Validity, action: "renew", note: "renews " + rec.Serial}
	for _, u := range old.URIs {
		req.URIs = append(req.URIs, u.String())
	}
	if req.Validity == 0 {
		req.Validity = old.NotAfter.Sub(old.NotBefore) + time.Second
		req.Validity = min(req.Validity, MaxValidity)
	}
	switch {
	case o.Rekey:
		req.KeyType = o.KeyType
		if req.KeyType == "" {
			if req.KeyType, err = KeyTypeOf(old.PublicKey); err != nil {
				return nil, err
			}
		}
	case o.Key != nil:
		if !publicKeysEqual(o.Key.Public(), old.PublicKey) {
			return nil, fmt.Errorf("%w: the key does not belong to the certificate (serial %s)", ErrPolicy, rec.Serial)
		}
		req.PublicKey = old.PublicKey
	default:
		req.PublicKey = old.PublicKey
	}
	is, err := ca.IssueLeaf(ctx, req)
	if err != nil {
		return nil, err
	}
	if o.Key != nil {
		is.Key = o.Key
	}
	return is, nil
}
