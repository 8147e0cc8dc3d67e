package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// TestScanOCSPStapling has openssl staple a good and a revoked OCSP answer:
// scan must see the staple, and a revoked certificate is not trusted.
func TestScanOCSPStapling(t *testing.T) {
	testtool.Need(t, "openssl")
	for _, tc := range []struct {
		name    string
		status  int
		grade   string
		trusted bool
	}{
		{"good", ocsp.Good, "A-", true},
		{"revoked", ocsp.Revoked, "T", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			dir := t.TempDir()
			lf := ca.issue(t, dir, leafSpec{})
			now := time.Now()
			der, err := ocsp.CreateResponse(ca.inter.Cert, ca.inter.Cert, ocsp.Response{
				Status: tc.status, SerialNumber: lf.leaf.SerialNumber,
				ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour),
				RevokedAt: now.Add(-time.Hour), RevocationReason: ocsp.KeyCompromise,
			}, ca.inter.Key)
			if err != nil {
				t.Fatal(err)
			}
			staple := filepath.Join(dir, "ocsp.der")
			if err := os.WriteFile(staple, der, 0o600); err != nil {
				t.Fatal(err)
			}
			addr := startOpenSSL(t, lf, "-status_file", staple)
			r := scanAddr(t, ca, addr, Options{})
			if !r.OCSPStapled {
				t.Error("stapled OCSP response not seen")
			}
			if r.Certificate.Trusted != tc.trusted || r.Rating.Grade != tc.grade {
				t.Errorf("trusted %v (%s), grade %s: want %v and %s", r.Certificate.Trusted, r.Certificate.TrustProblem, r.Rating.Grade, tc.trusted, tc.grade)
			}
			if !tc.trusted && !strings.Contains(strings.ToLower(r.Certificate.TrustProblem), "revoked") {
				t.Errorf("trust problem %q does not say revoked", r.Certificate.TrustProblem)
			}
		})
	}
}
