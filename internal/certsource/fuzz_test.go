package certsource

import (
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/testpki"
)

// FuzzParsePair feeds arbitrary bytes as certificate and key files: a
// broken file must be refused with an error, never panic or be served.
func FuzzParsePair(f *testing.F) {
	is := testpki.NewCA(f, testpki.ECDSAP256).Issue(f, testpki.Leaf{})
	f.Add(is.ChainPEM(), is.KeyPEM(f))
	f.Add(is.CertPEM()[:64], is.KeyPEM(f))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte{})
	now := time.Now()
	f.Fuzz(func(t *testing.T, cert, key []byte) {
		c, err := ParsePair(cert, key, nil, now)
		if err == nil && (c == nil || c.Leaf == nil) {
			t.Fatal("ParsePair accepted a pair without a leaf")
		}
	})
}
