package pki

import (
	"context"
	"sync"
	"testing"
)

// BenchmarkIssue measures issuance of an ECDSA P-256 server certificate
// including key generation and the durable store write, one caller at a
// time.
func BenchmarkIssue(b *testing.B) {
	ca, _ := newTestCA(b, InitOptions{})
	ctx := context.Background()
	req := Request{Profile: ProfileServer, DNS: []string{"bench.example.test"}, KeyType: ECDSAP256}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.IssueLeaf(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// BenchmarkIssueConcurrent8 is BenchmarkIssue with exactly 8 concurrent
// callers, whose store writes share commits.
func BenchmarkIssueConcurrent8(b *testing.B) {
	const callers = 8
	ca, _ := newTestCA(b, InitOptions{})
	ctx := context.Background()
	req := Request{Profile: ProfileServer, DNS: []string{"bench.example.test"}, KeyType: ECDSAP256}
	b.ReportAllocs()
	b.ResetTimer()
	next := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if _, err := ca.IssueLeaf(ctx, req); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for range b.N {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
