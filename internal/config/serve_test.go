package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsgate/tlsgate/internal/certsource"
	"github.com/tlsgate/tlsgate/internal/testpki"
)

func TestServeFileBecomesGatewayConfig(t *testing.T) {
	dir := t.TempDir()
	testpki.Good(t, testpki.ECDSAP256).WriteFiles(t, dir)
	yaml := `
listen: 127.0.0.1:9443
http_listen: "off"
redirect_port: 443
hsts: {max_age: 1h}
trusted_proxies: [10.1.0.0/16]
access_log: {output: "off"}
limits: {upstream_timeout: 3s, rate_limit: {per_second: 5}}
sites:
  - hosts: [localhost]
    certificate: {source: files, cert: cert.pem, key: key.pem}
    routes:
      - {path: /who, handler: whoami}
      - path: /
        upstreams: [http://127.0.0.1:9000]
        health_check: {path: /up, interval: 1s}
`
	path := filepath.Join(dir, "tlsgate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := f.Gateway(ServeEnv{Dir: dir, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9443" || cfg.HTTPListen != "" || cfg.AdminListen != "127.0.0.1:2019" || cfg.RedirectPort != 443 {
		t.Errorf("listeners = %q %q %q", cfg.Listen, cfg.HTTPListen, cfg.AdminListen)
	}
	if cfg.HSTS.MaxAge != time.Hour || cfg.AccessLog != nil || cfg.Limits.UpstreamTimeout != 3*time.Second || cfg.Limits.RatePerSecond != 5 {
		t.Errorf("settings not carried over: %+v", cfg)
	}
	if len(cfg.TrustedProxies) != 1 || cfg.TrustedProxies[0].String() != "10.1.0.0/16" {
		t.Errorf("trusted proxies = %v", cfg.TrustedProxies)
	}
	if cfg.DefaultSite != "localhost" || len(cfg.Sites) != 1 || len(cfg.Sites[0].Routes) != 2 {
		t.Fatalf("sites = %+v", cfg.Sites)
	}
	r := cfg.Sites[0].Routes[1]
	if r.HealthCheck == nil || r.HealthCheck.Path != "/up" || r.HealthCheck.Interval != time.Second {
		t.Errorf("health check = %+v", r.HealthCheck)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the gateway refuses the converted config: %v", err)
	}
}

func TestServeFileReportsUnreadableFilesWithPosition(t *testing.T) {
	dir := t.TempDir()
	yaml := `sites:
  - hosts: [localhost]
    certificate: {source: files, cert: missing.pem, key: missing.key}
    routes:
      - path: /
        upstreams: [https://127.0.0.1:9000]
        upstream_tls: {ca: nowhere.pem}
`
	path := filepath.Join(dir, "t.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.Gateway(ServeEnv{Dir: dir, Stdout: io.Discard})
	if err == nil {
		t.Fatal("missing files were not reported")
	}
	for _, want := range []string{path + ":3:40: sites[0].certificate.cert: read certificate", path + ":7:28: sites[0].routes[0].upstream_tls.ca: cannot read CA bundle"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestServeFileACMESiteAnswersHTTPChallenges(t *testing.T) {
	dir := t.TempDir()
	yaml := `sites:
  - hosts: [public.example.com]
    certificate:
      source: acme
      acme: {directory: "https://127.0.0.1:1/dir", challenges: [http-01]}
    routes:
      - {path: /, handler: whoami}
`
	path := filepath.Join(dir, "t.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := f.Gateway(ServeEnv{Dir: dir, Stdout: io.Discard, ACMEDir: filepath.Join(dir, "acme")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ACMEChallenge == nil {
		t.Error("an ACME site does not answer http-01 challenges on the redirect listener")
	}
	a, ok := cfg.Sites[0].Certs.(*certsource.ACME)
	if !ok {
		t.Fatalf("certificate source is %T, want *certsource.ACME", cfg.Sites[0].Certs)
	}
	a.Stop()
}
