package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tlsgate/tlsgate/internal/tlspolicy"
)

// accessLogger writes one line per request, JSON or Common Log Format,
// built by hand into pooled buffers and written through a buffer flushed
// every accessLogFlush, so logging costs no system call per request.
type accessLogger struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	common bool
}

// accessLogFlush bounds how long a line may wait in the buffer.
const accessLogFlush = 500 * time.Millisecond

func newAccessLogger(w io.Writer, format string) *accessLogger {
	return &accessLogger{bw: bufio.NewWriterSize(w, 64<<10), common: format == "common"}
}

func (l *accessLogger) flush() {
	l.mu.Lock()
	l.bw.Flush()
	l.mu.Unlock()
}

// flushLoop flushes the buffer periodically until ctx is done, then once
// more.
func (l *accessLogger) flushLoop(ctx context.Context) {
	t := time.NewTicker(accessLogFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.flush()
			return
		case <-t.C:
			l.flush()
		}
	}
}

var logBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (l *accessLogger) log(r *http.Request, rec *recorder, start time.Time, d time.Duration, site, route string) {
	bp := logBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	if l.common {
		b = appendCommon(b, r, rec, start)
	} else {
		b = appendJSONLine(b, r, rec, start, d, site, route)
	}
	b = append(b, '\n')
	l.mu.Lock()
	l.bw.Write(b)
	l.mu.Unlock()
	*bp = b
	logBuffers.Put(bp)
}

func appendJSONLine(b []byte, r *http.Request, rec *recorder, start time.Time, d time.Duration, site, route string) []byte {
	b = append(b, `{"time":"`...)
	b = start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","remote":`...)
	b = appendJSONString(b, r.RemoteAddr)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, r.RequestURI)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(rec.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, rec.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(d)/1e6, 'f', 3, 64)
	b = append(b, `,"site":`...)
	b = appendJSONString(b, site)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, route)
	if cs := r.TLS; cs != nil {
		b = append(b, `,"tls_version":`...)
		b = appendJSONString(b, tlspolicy.VersionName(cs.Version))
		b = append(b, `,"tls_suite":`...)
		b = appendJSONString(b, tlspolicy.CipherSuiteName(cs.CipherSuite))
		b = append(b, `,"tls_group":`...)
		b = appendJSONString(b, tlspolicy.GroupName(cs.CurveID))
		b = append(b, `,"tls_resumed":`...)
		b = strconv.AppendBool(b, cs.DidResume)
		if tc := connFrom(r); tc != nil {
			if h := tc.handshake.Load(); h > 0 {
				b = append(b, `,"handshake_ms":`...)
				b = strconv.AppendFloat(b, float64(h)/1e6, 'f', 3, 64)
			}
		}
		if id := verifiedClient(r); id != nil {
			b = append(b, `,"client":`...)
			b = appendJSONString(b, id.String())
		}
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		b = append(b, `,"user_agent":`...)
		b = appendJSONString(b, ua)
	}
	return append(b, '}')
}

// clientName is how authz names a verified client certificate in logs: its
// first URI SAN (a SPIFFE ID), else DNS SAN, email or subject.
func clientName(r *http.Request) string {
	id := verifiedClient(r)
	if id == nil {
		return "-"
	}
	return id.String()
}

// appendCommon writes the Common Log Format line:
// host ident authuser [date] "request" status bytes
func appendCommon(b []byte, r *http.Request, rec *recorder, start time.Time) []byte {
	host := r.RemoteAddr
	if ap := peerAddr(r); ap.IsValid() {
		host = ap.String()
	}
	b = append(b, host...)
	b = append(b, " - "...)
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		b = appendCLFField(b, clientName(r))
	} else {
		b = append(b, '-')
	}
	b = append(b, " ["...)
	b = start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendCLFField(b, r.Method)
	b = append(b, ' ')
	b = appendCLFField(b, r.RequestURI)
	b = append(b, ' ')
	b = appendCLFField(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(rec.status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, rec.bytes, 10)
	return b
}

// appendCLFField escapes quotes, spaces' neighbours and control bytes so a
// hostile request line cannot forge log lines.
func appendCLFField(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c >= 0x80 {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}
