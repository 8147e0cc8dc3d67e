package scan

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// A private CA's chain sent up to its intermediate is complete; only trust
// is missing. Sent without the intermediate, it is incomplete.
func TestChainCompletenessWithUntrustedRoot(t *testing.T) {
	root := testpki.NewCA(t, testpki.ECDSAP256)
	inter := root.NewIntermediate(t)
	leaf := inter.Issue(t, testpki.Leaf{DNS: []string{"localhost"}})
	full := leaf.Chain()
	if len(full) < 2 || !full[len(full)-1].IsCA {
		t.Fatalf("fixture chain has %d certificates, want leaf and intermediate", len(full))
	}
	empty := x509.NewCertPool()
	now := time.Now()

	got := checkCertificate(context.Background(), full, "localhost", empty, nil, 0, now)
	if got.Trusted || !got.ChainComplete {
		t.Errorf("leaf+intermediate, root untrusted: trusted=%v complete=%v, want untrusted and complete", got.Trusted, got.ChainComplete)
	}
	got = checkCertificate(context.Background(), full[:1], "localhost", empty, nil, 0, now)
	if got.ChainComplete {
		t.Error("leaf alone, issuer not sent: chain reported complete")
	}
	got = checkCertificate(context.Background(), full, "localhost", leaf.Roots(), nil, 0, now)
	if !got.Trusted || !got.ChainComplete {
		t.Errorf("root trusted: trusted=%v complete=%v (%s)", got.Trusted, got.ChainComplete, got.TrustProblem)
	}
}
