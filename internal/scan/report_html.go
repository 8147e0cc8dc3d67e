package scan

import (
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes one self-contained page (inline CSS, no scripts, no
// external resources) with the grade and findings of every result.
func WriteHTML(w io.Writer, results []*Result) error {
	return htmlPage.Execute(w, results)
}

var htmlPage = template.Must(template.New("scan").Funcs(template.FuncMap{
	"gradeClass": func(g string) string {
		switch {
		case strings.HasPrefix(g, "A"):
			return "good"
		case g == "B" || g == "C":
			return "fair"
		}
		return "bad"
	},
	"join":    strings.Join,
	"vname":   VersionName,
	"hex":     hex4,
	"weak":    weakness,
	"yesno":   func(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] },
	"boolptr": yesNo,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tlsgate scan{{range .}} {{.Target}}{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
.grade{display:inline-block;font-size:3em;font-weight:bold;width:1.8em;text-align:center;border-radius:.2em;color:#fff}
.good{background:#2e7d32}.fair{background:#ef6c00}.bad{background:#c62828}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
.vulnerable{color:#c62828;font-weight:bold}.not_vulnerable{color:#2e7d32}.unknown{color:#777}
code{font-size:.9em}
</style></head><body>
<h1>tlsgate scan</h1>
{{range .}}
<h2>{{.Target}} <small>{{.Address}}</small></h2>
{{if .Error}}<p class="vulnerable">Error: {{.Error}}</p>{{end}}
{{with .Rating}}
<p><span class="grade {{gradeClass .Grade}}">{{.Grade}}</span>
{{if .GradeIfTrusted}} {{.GradeIfTrusted}} if the certificate were trusted{{end}}</p>
<table>
<tr><th>Score</th><td>{{.Score}}</td></tr>
<tr><th>Protocol support (30%)</th><td>{{.ProtocolScore}}</td></tr>
<tr><th>Key exchange (30%)</th><td>{{.KeyExchangeScore}}</td></tr>
<tr><th>Cipher strength (40%)</th><td>{{.CipherScore}}</td></tr>
<tr><th>Rules</th><td>{{.Guide}} {{.GuideRevision}}</td></tr>
{{range .Caps}}<tr><th>Capped at {{.Grade}}</th><td>{{.Reason}}</td></tr>{{end}}
{{range .Warnings}}<tr><th>Warning (A-)</th><td>{{.Reason}}</td></tr>{{end}}
</table>
{{if .ToReachAPlus}}<h3>To reach A+</h3><ol>{{range .ToReachAPlus}}<li>{{.}}</li>{{end}}</ol>{{end}}
{{end}}
<h3>Protocols and cipher suites</h3>
<table>{{range .Protocols}}
<tr><th>{{vname .Version}}</th><td>{{if .Supported}}offered{{else}}not offered{{end}}</td></tr>
{{range .Suites}}<tr><td><code>0x{{hex .ID}}</code></td><td><code>{{.Name}}</code> {{.Bits}} bits {{weak .}}</td></tr>{{end}}
{{end}}</table>
{{with .Certificate}}
<h3>Certificate</h3>
<table>
<tr><th>Subject</th><td>{{.Subject}}</td></tr>
<tr><th>Names</th><td>{{join .SANs ", "}}</td></tr>
<tr><th>Issuer</th><td>{{.Issuer}}</td></tr>
<tr><th>Key</th><td>{{.KeyType}} {{.KeyBits}} bits, {{.SignatureAlgorithm}}</td></tr>
<tr><th>Valid until</th><td>{{.NotAfter.Format "2006-01-02"}} ({{.DaysLeft}} days left)</td></tr>
<tr><th>Trusted</th><td>{{yesno .Trusted}} {{.TrustProblem}}</td></tr>
<tr><th>Name matches</th><td>{{yesno .NameMatches}}</td></tr>
<tr><th>Chain complete</th><td>{{yesno .ChainComplete}}</td></tr>
</table>
{{end}}
<h3>Features</h3>
<table>
<tr><th>TLS_FALLBACK_SCSV</th><td>{{boolptr .FallbackSCSV "supported" "not supported" "not applicable"}}</td></tr>
<tr><th>Secure renegotiation</th><td>{{boolptr .SecureRenegotiation "supported" "not supported" "not observed"}}</td></tr>
<tr><th>Session tickets</th><td>{{yesno .Resumption.Tickets}}</td></tr>
<tr><th>ALPN</th><td>{{join .ALPN " "}}</td></tr>
<tr><th>OCSP stapling</th><td>{{yesno .OCSPStapled}}</td></tr>
{{with .HTTP}}<tr><th>HSTS</th><td>{{if .HSTS}}<code>{{.HSTS}}</code>{{else}}none{{end}}</td></tr>
<tr><th>Port 80</th><td>{{.Port80}} {{.Port80Location}}</td></tr>{{end}}
</table>
<h3>Vulnerabilities</h3>
<table>{{range .Vulnerabilities}}
<tr><th>{{.Name}}</th><td class="{{.Status}}">{{.Status}}</td><td>{{.Evidence}}</td></tr>
{{end}}</table>
{{end}}
</body></html>
`))

func hex4(id uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[id>>12&0xf], digits[id>>8&0xf], digits[id>>4&0xf], digits[id&0xf]})
}
