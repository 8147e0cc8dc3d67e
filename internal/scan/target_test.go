package scan

import (
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	good := map[string]string{
		"example.com":               "example.com:443",
		"example.com:8443":          "example.com:8443",
		"127.0.0.1:1":               "127.0.0.1:1",
		"[::1]:8443":                "[::1]:8443",
		"::1":                       "[::1]:443",
		"https://example.com/x?y=1": "example.com:443",
		"https://[::1]:9/":          "[::1]:9",
	}
	for in, want := range good {
		tg, err := ParseTarget(in)
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", in, err)
			continue
		}
		if tg.Address() != want {
			t.Errorf("ParseTarget(%q) = %s, want %s", in, tg.Address(), want)
		}
	}
	bad := map[string]string{
		"":                     "empty target",
		"example.com:0":        "port",
		"example.com:https":    "port",
		"http://example.com":   "scheme",
		"example.com:443:1":    "host:port",
		"https://":             "not a valid URL",
		":443":                 "no host",
		"example.com:99999999": "port",
	}
	for in, want := range bad {
		_, err := ParseTarget(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTarget(%q) error %v, want it to mention %q", in, err, want)
		}
	}
}

func TestReadTargets(t *testing.T) {
	ts, err := ReadTargets(strings.NewReader("# servers\na.example\n\n  b.example:8443  \n"), "hosts.txt")
	if err != nil || len(ts) != 2 || ts[1].Address() != "b.example:8443" {
		t.Fatalf("ReadTargets = %+v, %v", ts, err)
	}
	_, err = ReadTargets(strings.NewReader("a.example\nb.example:x\n"), "hosts.txt")
	if err == nil || !strings.Contains(err.Error(), "hosts.txt:2:") {
		t.Fatalf("error %v should name hosts.txt:2", err)
	}
}
