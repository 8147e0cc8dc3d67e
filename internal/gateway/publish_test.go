package gateway

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// The local CA's revocation and issuer paths are answered on the plain
// HTTP listener; everything else is still redirected.
func TestRedirectListenerServesCAPublisherPathsOnly(t *testing.T) {
	site, roots := siteFor(t, whoamiRoute())
	pub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "published "+r.URL.Path) })
	tg := startGateway(t, &Config{Sites: []*Site{site}, CAPublisher: pub}, roots)
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, published := range map[string]bool{
		"/crl/intermediate.crl": true, "/ocsp": true, "/ocsp/MEIw": true, "/ca/intermediate.cer": true, "/root/abc": true,
		"/": false, "/ocspx": false, "/crl": false, "/api/crl/x": false,
	} {
		resp, err := c.Get("http://" + tg.http + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case published && (resp.StatusCode != 200 || string(body) != "published "+path):
			t.Errorf("%s = %d %q, want the publisher's answer", path, resp.StatusCode, body)
		case !published && resp.StatusCode != http.StatusPermanentRedirect:
			t.Errorf("%s = %d, want the redirect", path, resp.StatusCode)
		}
	}
}
