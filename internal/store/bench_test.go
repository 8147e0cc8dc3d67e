package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkPutCertificate is one durable insert (a commit and its fsync)
// per operation: the floor under sequential issuance.
func BenchmarkPutCertificate(b *testing.B) {
	s, _ := openTemp(b)
	ctx := context.Background()
	der := make([]byte, 600)
	i := 0
	for b.Loop() {
		i++
		sn := fmt.Sprintf("%032x", i)
		if err := s.PutCertificate(ctx, Certificate{Serial: sn, Issuer: "intermediate", Profile: "server", SANs: []string{"a.example.test"}, NotAfter: time.Now(), DER: der}, Event{Action: "issue", Serial: sn}); err != nil {
			b.Fatal(err)
		}
	}
}
