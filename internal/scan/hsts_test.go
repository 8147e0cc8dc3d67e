package scan

import "testing"

func TestParseHSTS(t *testing.T) {
	tests := []struct {
		in   string
		want HSTS
	}{
		{"max-age=31536000; includeSubDomains; preload", HSTS{MaxAge: 31536000, IncludeSubDomains: true, Preload: true, Valid: true}},
		{`MAX-AGE="600"`, HSTS{MaxAge: 600, Valid: true}},
		{"max-age=0", HSTS{MaxAge: 0, Valid: true}},
		{"includeSubDomains", HSTS{}},
		{"max-age=abc", HSTS{}},
		{"max-age=-5", HSTS{}},
		{"max-age=1; max-age=2", HSTS{}},
		{"", HSTS{}},
		{"max-age=15552000;unknown=1", HSTS{MaxAge: 15552000, Valid: true}},
	}
	for _, tt := range tests {
		if got := ParseHSTS(tt.in); got != tt.want {
			t.Errorf("ParseHSTS(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseHSTS(f *testing.F) {
	f.Add("max-age=31536000; includeSubDomains; preload")
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseHSTS(s)
		if !h.Valid && (h.MaxAge != 0 || h.Preload || h.IncludeSubDomains) {
			t.Fatalf("invalid header with fields set: %+v", h)
		}
		if h.MaxAge < 0 {
			t.Fatalf("negative max-age %d", h.MaxAge)
		}
	})
}

func FuzzCountSCTs(f *testing.F) {
	f.Add([]byte{0, 6, 0, 1, 0xaa, 0, 1, 0xbb})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := countSCTs(b); n < 0 || n > len(b) {
			t.Fatalf("countSCTs = %d for %d bytes", n, len(b))
		}
	})
}
