package inspect

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"testing"
)

func TestChainNameFallsBackToSAN(t *testing.T) {
	u, _ := url.Parse("spiffe://corp.test/billing")
	for want, c := range map[string]*x509.Certificate{
		"CN=api.example.test":            {Subject: pkix.Name{CommonName: "api.example.test"}},
		"DNS:localhost":                  {DNSNames: []string{"localhost", "vm"}},
		"IP:127.0.0.1":                   {IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}},
		"URI:spiffe://corp.test/billing": {URIs: []*url.URL{u}},
		"email:alice@example.org":        {EmailAddresses: []string{"alice@example.org"}},
		"(empty subject)":                {},
	} {
		if got := chainName(c); got != want {
			t.Errorf("chainName = %q, want %q", got, want)
		}
	}
}
