package certcheck

import (
	"context"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// FuzzOCSPResponse feeds arbitrary bytes as a stapled OCSP response, the
// untrusted input a peer controls: it must never panic or pass as "revoked"
// or "good" without a valid signature from the issuer.
func FuzzOCSPResponse(f *testing.F) {
	fix := testpki.Revoked(f)
	f.Add(fix.OCSP)
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x01}) // malformedRequest status
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := OCSPResponse{Raw: raw}.CheckRevocation(context.Background(), fix.Leaf(), fix.Chain[1], time.Now())
		if err != nil && st.State != RevocationUnknown {
			t.Fatalf("error %v with state %s", err, st.State)
		}
		r := Verify(context.Background(), Input{Chain: fix.Chain, Roots: fix.Roots, Name: fix.ServerName, Stapled: raw})
		if r.Reason != ReasonOK && r.Reason != ReasonRevoked {
			t.Fatalf("staple changed the verdict to %s: %s", r.Reason, r.Message)
		}
	})
}

// FuzzCRL feeds arbitrary bytes as a CRL.
func FuzzCRL(f *testing.F) {
	fix := testpki.Revoked(f)
	f.Add(fix.CRL)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		crls, err := ParseCRLs(der)
		if err != nil {
			return
		}
		st, err := crls.CheckRevocation(context.Background(), fix.Leaf(), fix.Chain[1], time.Now())
		if err != nil && st.State != RevocationUnknown {
			t.Fatalf("error %v with state %s", err, st.State)
		}
	})
}

// FuzzDecodeCRLs feeds fetched CRL bodies (PEM or DER) to the parser:
// it must never panic, and a list it accepts has an issuer name.
func FuzzDecodeCRLs(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAo=\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		crls, err := DecodeCRLs(b)
		if err != nil {
			return
		}
		for _, c := range crls {
			if c == nil {
				t.Fatal("nil list without an error")
			}
		}
	})
}
