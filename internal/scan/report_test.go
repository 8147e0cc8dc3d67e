package scan

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func ratedModern() *Result {
	r := modern()
	r.Target, r.Address = "api.example:443", "192.0.2.1:443"
	r.Certificate.Subject = `CN=<script>alert(1)</script>`
	r.Vulnerabilities = []Vulnerability{{ID: "heartbleed", Name: "Heartbleed", Status: StatusNotVulnerable, Evidence: "no heartbeat"}}
	Assess(r)
	r.Rating = Rate(r)
	return r
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, ratedModern()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Grade          A+",
		"Score          93 = 30% protocol 100 + 30% key exchange 90 + 40% cipher 90  (SSL Labs SSL Server Rating Guide 2009r)",
		"TLS 1.3  offered, 2 suites",
		"0xC02F TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"HSTS           max-age=31536000 (365 days)",
		"Heartbleed               not vulnerable  no heartbeat",
		"POODLE (SSL 3.0)         not vulnerable  SSL 3.0 is not accepted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "To reach A+") {
		t.Error("an A+ report lists changes to reach A+")
	}
}

func TestWriteHTMLEscapesAndIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	r := ratedModern()
	if err := WriteHTML(&b, []*Result{r, {Target: "down.example", Error: "connect to down.example:443: refused"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script>") {
		t.Error("a certificate subject reached the page unescaped")
	}
	for _, bad := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("the page refers to something outside itself: %q", bad)
		}
	}
	for _, want := range []string{`class="grade good">A&#43;<`, "down.example", "connect to down.example:443: refused", "2009r"} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestJSONFieldsDocumented keeps docs/scan.md and the schema together: every
// JSON field a result can carry must be named in the documentation.
func TestJSONFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/scan.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(tp reflect.Type) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] || tp.PkgPath() != reflect.TypeOf(Result{}).PkgPath() {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !bytes.Contains(doc, []byte("`"+name+"`")) && !bytes.Contains(doc, []byte("."+name+"`")) && !bytes.Contains(doc, []byte("`"+name+"[]`")) {
				t.Errorf("JSON field %s.%s is not documented in docs/scan.md", tp.Name(), name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Document{}))
	// And the document really carries its schema version.
	b, _ := json.Marshal(Document{SchemaVersion: SchemaVersion, Results: []*Result{ratedModern()}})
	if !bytes.HasPrefix(b, []byte(`{"schema_version":1,`)) {
		t.Errorf("JSON starts %s", b[:40])
	}
}

func TestWriteSummary(t *testing.T) {
	weak := modern()
	weak.Target = "old.example:443"
	setProto(weak, VersionTLS10, ecdheCBC128)
	setProto(weak, VersionSSL20, Suite{Name: "SSL_CK_RC4_128_WITH_MD5", KeyExchange: "RSA", Cipher: "RC4", Bits: 128, KeyBits: 128, RC4: true})
	weak.Rating = Rate(weak)
	var b bytes.Buffer
	if err := WriteSummary(&b, []*Result{ratedModern(), weak, {Target: "down.example", Error: "connect to down.example:443: refused"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"api.example:443                  A+   93  no cap", "old.example:443                  F", "SSL 2.0 is accepted", "down.example                     -   connect to down.example:443: refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
