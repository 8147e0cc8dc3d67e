package inspect

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// UsageError is an error in what the caller asked for (a malformed target,
// an unreadable --ca file), as opposed to a connection that failed.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error { return &UsageError{fmt.Errorf(format, args...)} }

// ParseTarget reads "https://host[:port][/path]", "http://host[:port][/path]"
// or "host:port" (taken as https).
func ParseTarget(s string) (*Target, error) {
	in := s
	if !strings.Contains(s, "://") {
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" {
			return nil, usagef("target %q: expected https://host[:port][/path], http://host[:port][/path] or host:port", in)
		}
		s = "https://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, usagef("target %q: %v", in, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, usagef("target %q: scheme %q is not supported; use https:// or http://", in, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, usagef("target %q has no host", in)
	}
	if u.User != nil {
		return nil, usagef("target %q carries credentials; inspect does not send them", in)
	}
	t := &Target{Input: in, Scheme: u.Scheme, Host: u.Hostname(), Port: u.Port(), Path: u.EscapedPath()}
	if t.Port == "" {
		t.Port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	if p, err := strconv.Atoi(t.Port); err != nil || p < 1 || p > 65535 {
		return nil, usagef("target %q: port %q is not a number from 1 to 65535", in, t.Port)
	}
	if t.Path == "" {
		t.Path = "/"
	}
	if u.RawQuery != "" {
		t.Path += "?" + u.RawQuery
	}
	return t, nil
}

func (t *Target) hostPort() string { return net.JoinHostPort(t.Host, t.Port) }
