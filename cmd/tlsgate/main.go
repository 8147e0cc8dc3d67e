// Command tlsgate makes APIs reachable only over HTTPS done right, and makes
// the TLS of any endpoint visible and checkable.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tlsgate/tlsgate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
