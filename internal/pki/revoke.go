package pki

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
)

// Reason is an RFC 5280 CRLReason code.
type Reason int

// The revocation reasons tlsgate accepts. certificateHold is left out on
// purpose: a revocation here is final.
const (
	ReasonUnspecified          Reason = 0
	ReasonKeyCompromise        Reason = 1
	ReasonCACompromise         Reason = 2
	ReasonAffiliationChanged   Reason = 3
	ReasonSuperseded           Reason = 4
	ReasonCessationOfOperation Reason = 5
	ReasonPrivilegeWithdrawn   Reason = 9
)

var reasonNames = map[Reason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
}

func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ParseReason accepts a reason name as RFC 5280 spells it (any case).
func ParseReason(s string) (Reason, error) {
	var names []string
	for r, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return r, nil
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown revocation reason %q; expected one of %s", s, strings.Join(names, ", "))
}

// CertInfo is what `ca list` and `ca show` print about a certificate.
type CertInfo struct {
	store.Certificate
}

// Status is "valid", "expired" or "revoked" at time now.
func (c CertInfo) Status(now time.Time) string {
	switch {
	case c.Revoked():
		return "revoked"
	case now.After(c.NotAfter):
		return "expired"
	}
	return "valid"
}

// Lookup returns the certificate with this serial (with its DER) or an
// error wrapping ErrUnknownSerial.
func (ca *CA) Lookup(ctx context.Context, serial *big.Int) (CertInfo, error) {
	c, err := ca.store.Certificate(ctx, SerialString(serial))
	if errors.Is(err, store.ErrNotFound) {
		return CertInfo{}, fmt.Errorf("serial %s: %w in %s; tlsgate ca list shows the known ones", SerialString(serial), ErrUnknownSerial, ca.dir)
	}
	return CertInfo{c}, err
}

// ListOptions narrow List.
type ListOptions struct {
	Expiring    time.Duration // only unrevoked certificates expiring within this (and not yet expired)
	OnlyRevoked bool
	All         bool // include the CA's own certificates (root, intermediate, OCSP signer)
}

// List returns the certificates in the store, oldest first.
func (ca *CA) List(ctx context.Context, o ListOptions) ([]CertInfo, error) {
	f := store.ListFilter{OnlyRevoked: o.OnlyRevoked}
	if o.Expiring > 0 {
		now := ca.now()
		f.NotAfterFrom, f.NotAfterTo = now, now.Add(o.Expiring)
	}
	certs, err := ca.store.Certificates(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]CertInfo, 0, len(certs))
	for _, c := range certs {
		if !o.All && !isLeafProfile(c.Profile) {
			continue
		}
		if o.Expiring > 0 && c.Revoked() {
			continue
		}
		out = append(out, CertInfo{c})
	}
	return out, nil
}

func isLeafProfile(p string) bool {
	for _, l := range Profiles {
		if string(l) == p {
			return true
		}
	}
	return false
}

// Revoke marks the certificate revoked for reason. The CRL and OCSP
// answers change from the next request on, and so do the answers of this
// CA's RevocationCaches.
func (ca *CA) Revoke(ctx context.Context, serial *big.Int, reason Reason) error {
	if _, ok := reasonNames[reason]; !ok {
		return fmt.Errorf("revocation reason %d is not accepted", reason)
	}
	sn := SerialString(serial)
	c, err := ca.store.Certificate(ctx, sn)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("serial %s: %w in %s; tlsgate ca list shows the known ones", sn, ErrUnknownSerial, ca.dir)
	}
	if err != nil {
		return err
	}
	if c.Issuer != issuerIntermed {
		return fmt.Errorf("serial %s is the CA's own %s certificate; revoking it is not supported, create a new CA instead", sn, c.Profile)
	}
	now := ca.now().UTC().Truncate(time.Second)
	err = ca.store.Revoke(ctx, store.Revocation{Serial: sn, Reason: int(reason), RevokedAt: now},
		store.Event{Time: now, Actor: ca.actor, Action: "revoke", Serial: sn, Detail: "reason " + reason.String()})
	// Even on error: the revocation may have committed before it came.
	ca.revocations.Add(1)
	switch {
	case errors.Is(err, store.ErrAlreadyRevoked):
		return fmt.Errorf("serial %s was revoked on %s (%s): %w", sn, c.RevokedAt.Format(time.RFC3339), Reason(c.RevocationReason), ErrAlreadyRevoked)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("serial %s: %w", sn, ErrUnknownSerial)
	}
	return err
}

// IsRevoked reports whether a certificate this CA issued is revoked, why
// and when. A serial the CA never issued yields an error wrapping
// ErrUnknownSerial: treat it as untrusted. Each call is a store query; a
// caller asking on every request wants a RevocationCache.
func (ca *CA) IsRevoked(ctx context.Context, serial *big.Int) (revoked bool, reason Reason, at time.Time, err error) {
	c, err := ca.store.Certificate(ctx, SerialString(serial))
	if errors.Is(err, store.ErrNotFound) {
		return false, 0, time.Time{}, fmt.Errorf("serial %s: %w", SerialString(serial), ErrUnknownSerial)
	}
	if err != nil {
		return false, 0, time.Time{}, err
	}
	return c.Revoked(), Reason(c.RevocationReason), c.RevokedAt, nil
}
