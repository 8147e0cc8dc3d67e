package pki

import (
	"context"
	"path/filepath"
	"testing"
)

// FuzzParseCSR feeds arbitrary bytes to the CSR parser and, for what it
// accepts, to the request and policy checks that precede signing. Nothing
// may panic; an accepted CSR must carry a verified signature.
func FuzzParseCSR(f *testing.F) {
	ca, err := Init(context.Background(), filepath.Join(f.TempDir(), "home"), InitOptions{PermitDNS: []string{"example.test"}})
	if err != nil {
		f.Fatal(err)
	}
	defer ca.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err != nil {
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatal("ParseCSR accepted a CSR whose signature does not verify")
		}
		for _, p := range Profiles {
			req, err := CSRRequest(csr, SignOptions{Profile: p})
			if err != nil {
				continue
			}
			ca.leafTemplate(req)
		}
	})
}

// FuzzOCSPRequest feeds arbitrary bytes to the OCSP responder: every input
// gets a response (an OCSP error response for garbage), never a panic or a
// Go error.
func FuzzOCSPRequest(f *testing.F) {
	ctx := context.Background()
	ca, err := Init(ctx, filepath.Join(f.TempDir(), "home"), InitOptions{})
	if err != nil {
		f.Fatal(err)
	}
	defer ca.Close()
	is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"a.example.test"}})
	if err != nil {
		f.Fatal(err)
	}
	req, err := OCSPRequest(is.Leaf, ca.Intermediate())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(req)
	r := ca.NewResponder()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := r.Respond(ctx, data)
		if err != nil {
			t.Fatalf("responder failed: %v", err)
		}
		if len(a.DER) == 0 {
			t.Fatal("empty OCSP response")
		}
	})
}

// FuzzParseKey feeds arbitrary bytes to the key-file parser, with and
// without a passphrase; a damaged file must be an error, never a panic
// or an unbounded scrypt.
func FuzzParseKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, pass []byte) {
		k, err := ParseKey(data, pass)
		if err == nil && k == nil {
			t.Fatal("nil key without error")
		}
	})
}

// FuzzParseSerial checks that serial text either parses to a positive
// number that prints back canonically, or is refused.
func FuzzParseSerial(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSerial(s)
		if err != nil {
			return
		}
		back, err := ParseSerial(SerialString(n))
		if err != nil || back.Cmp(n) != 0 || n.Sign() <= 0 {
			t.Fatalf("serial %q parsed to %v, which does not round-trip (%v)", s, n, err)
		}
	})
}
