package pki

import (
	"context"
	"testing"

	"golang.org/x/crypto/ocsp"
)

func TestCAKeyTypesPublish(t *testing.T) {
	for _, kt := range []KeyType{ECDSAP384, Ed25519, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			ca, _ := newTestCA(t, InitOptions{KeyType: kt})
			ctx := context.Background()
			is, err := ca.IssueLeaf(ctx, Request{Profile: ProfileServer, DNS: []string{"a.example.test"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ca.NewPublisher(ctx, nil); err != nil {
				t.Fatal(err)
			}
			req, _ := OCSPRequest(is.Leaf, ca.Intermediate())
			a, err := ca.NewResponder().Respond(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ocsp.ParseResponseForCert(a.DER, is.Leaf, ca.Intermediate())
			if err != nil || r.Status != ocsp.Good {
				t.Fatal(r, err)
			}
		})
	}
}
