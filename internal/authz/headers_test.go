package authz

import (
	"encoding/pem"
	"net/http"
	"net/url"
	"testing"
)

func TestSetClientCertHeaders(t *testing.T) {
	ca := newCA(t, "Test CA")
	c := newClientCert(t, ca, "billing", "spiffe://corp.test/billing", "https://corp.test/a,b")
	id := IdentityFromCertificate(c.cert)

	h := http.Header{}
	// What a client might forge, in every spelling an upstream could read.
	h.Set("X-Client-Cert-Subject", "CN=admin")
	h.Set("X-Client-Cert-San-Uri", "spiffe://corp.test/admin")
	h["x-client-cert-sha256"] = []string{"forged"}
	h["X_Client_Cert_Subject"] = []string{"CN=admin"}
	h.Set("X-Client-Cert", "forged")
	h.Set("X-Request-Id", "keep me")

	SetClientCertHeaders(h, id)

	if h.Get("X-Request-Id") != "keep me" {
		t.Error("an unrelated header was removed")
	}
	for _, k := range []string{"x-client-cert-sha256", "X_Client_Cert_Subject", "X-Client-Cert"} {
		if _, ok := h[k]; ok {
			t.Errorf("forged header %s survived", k)
		}
	}
	if got, _ := url.PathUnescape(h.Get(HeaderSubject)); got != "CN=billing,O=Corp\\, Inc." {
		t.Errorf("subject header %q decodes to %q", h.Get(HeaderSubject), got)
	}
	uris, err := ClientCertHeaderValues(h, HeaderURI)
	if err != nil || len(uris) != 2 || uris[0] != "spiffe://corp.test/billing" || uris[1] != "https://corp.test/a,b" {
		t.Errorf("URI header %q decodes to %q, %v", h.Get(HeaderURI), uris, err)
	}
	for name, want := range map[string]string{HeaderDNS: "billing.corp.test", HeaderEmail: "ops@corp.test", HeaderIP: "10.0.0.7", HeaderSHA256: id.Fingerprint} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	raw, err := url.PathUnescape(h.Get(HeaderPEM))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(raw))
	if block == nil || string(block.Bytes) != string(c.cert.Raw) {
		t.Error("PEM header does not decode to the client certificate")
	}
	for k, vs := range h {
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] == 0x7f {
					t.Errorf("header %s holds control byte %#x", k, v[i])
				}
			}
		}
	}
}

func TestSetClientCertHeadersWithoutIdentityStrips(t *testing.T) {
	h := http.Header{"X-Client-Cert-San-Uri": {"spiffe://corp.test/admin"}, "Accept": {"*/*"}}
	SetClientCertHeaders(h, nil)
	if len(h) != 1 || h.Get("Accept") != "*/*" {
		t.Errorf("headers after strip: %v", h)
	}
}
