package tunnel

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/pki"
)

// TestLocalCARevocation checks client certificates of the local CA before
// and after their revocation, through another process's CA on the same
// store (within the refresh interval) and through the CA the checker was
// made from (at once).
func TestLocalCARevocation(t *testing.T) {
	ctx := context.Background()
	home := filepath.Join(t.TempDir(), "home")
	ca, err := pki.Init(ctx, home, pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	other, err := pki.Open(ctx, home, pki.Options{}) // as tlsgate ca revoke opens it
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	issue := func(email string) *pki.Issued {
		is, err := ca.IssueLeaf(ctx, pki.Request{Profile: pki.ProfileClient, Emails: []string{email}})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	alice, bob := issue("alice@corp.test"), issue("bob@corp.test")
	check := LocalCARevocation(ca)
	state := func(is *pki.Issued) certcheck.RevocationStatus {
		t.Helper()
		st, err := check.CheckRevocation(ctx, is.Leaf, ca.Intermediate(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, is := range []*pki.Issued{alice, bob} {
		if st := state(is); st.State != certcheck.RevocationGood {
			t.Fatalf("%s before any revocation: %+v", is.Leaf.EmailAddresses[0], st)
		}
	}

	if err := other.Revoke(ctx, bob.Leaf.SerialNumber, pki.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for state(bob).State != certcheck.RevocationRevoked {
		if time.Now().After(deadline) {
			t.Fatal("a revocation by another process on the same store was still not applied after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := ca.Revoke(ctx, alice.Leaf.SerialNumber, pki.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if st := state(alice); st.State != certcheck.RevocationRevoked || st.ReasonCode != int(pki.ReasonKeyCompromise) {
		t.Fatalf("first check after a revocation through the same CA: %+v, want revoked (keyCompromise)", st)
	}
}
