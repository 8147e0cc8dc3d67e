package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckClientListen refuses a client-mode listen address that is not on the
// loopback interface unless allowRemote is set: a plaintext listener open to
// the network would hand anyone on it an authenticated, encrypted channel to
// the target and expose the cleartext on the way in.
func CheckClientListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT, e.g. 127.0.0.1:9000", addr)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("--listen %q: client mode accepts plaintext, and %s is not a loopback address; listen on 127.0.0.1 or [::1], or pass --allow-remote if the network in between is trusted", addr, shown)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Listen opens a TCP listener on addr.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln, nil
}
