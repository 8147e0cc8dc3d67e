package scan

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Target is one server to scan.
type Target struct {
	// Input is the target as the user wrote it.
	Input string
	Host  string
	Port  string
}

// Address is host:port, with brackets for IPv6.
func (t Target) Address() string { return net.JoinHostPort(t.Host, t.Port) }

// ParseTarget accepts host, host:port, [v6addr]:port or an https:// URL;
// the port defaults to 443.
func ParseTarget(s string) (Target, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Target{}, fmt.Errorf("empty target: give host, host:port or https://host[:port]")
	}
	hostport := in
	if strings.Contains(in, "://") {
		u, err := url.Parse(in)
		if err != nil || u.Host == "" {
			return Target{}, fmt.Errorf("target %q: not a valid URL; give host, host:port or https://host[:port]", in)
		}
		if u.Scheme != "https" {
			return Target{}, fmt.Errorf("target %q: scheme %q is not scanned; use https:// or host:port", in, u.Scheme)
		}
		hostport = u.Host
	}
	host, port := hostport, "443"
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	} else if net.ParseIP(hostport) != nil {
		host = hostport // a bare IPv6 address
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = strings.Trim(hostport, "[]")
	} else if strings.Contains(hostport, ":") {
		return Target{}, fmt.Errorf("target %q: %v; give host, host:port or https://host[:port]", in, err)
	}
	if host == "" {
		return Target{}, fmt.Errorf("target %q: no host name; give host, host:port or https://host[:port]", in)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", in, port)
	}
	return Target{Input: in, Host: host, Port: port}, nil
}

// ReadTargets reads one target per line; blank lines and lines starting with
// # are skipped. Errors name the file and line.
func ReadTargets(r io.Reader, name string) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		t, err := ParseTarget(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
