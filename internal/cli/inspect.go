package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsgate/tlsgate/internal/inspect"
)

func init() { register(newInspectCommand) }

func newInspectCommand(g *Globals) *cobra.Command {
	var (
		o                   inspect.Options
		tls12, tls13        bool
		wireOut, jsonOut    bool
		chainFile, name, at string
	)
	cmd := &cobra.Command{
		Use:   "inspect https://host[:port][/path] | host:port | http://host[:port][/path] | --cert FILE",
		Short: "Show one real TLS handshake step by step, and why a certificate is (not) trusted",
		Long: `inspect connects once and shows the handshake as numbered steps with the
real values: ClientHello, ServerHello, the certificate chain, its
verification, the key exchange and where encryption starts. --wire lists
every record as an eavesdropper sees it; an http:// target shows the plain
exchange in clear and whether the server redirects to HTTPS.

With --cert FILE and no target it decodes and verifies a chain from files.

Exit status: 0 verified, 3 verification failed (or plain HTTP served
without a redirect), 1 connection failed, 2 usage error.`,
		Example: `  tlsgate inspect https://example.com
  tlsgate inspect localhost:8443 --ca root.pem --wire
  tlsgate inspect https://api.internal/health --ca root.pem --request
  tlsgate inspect http://localhost:8080/
  tlsgate inspect --cert leaf.pem --chain chain.pem --ca root.pem --name api.internal`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return UsageError(fmt.Errorf("inspect takes one target, got %d\nRun '%s --help' for usage.", len(args), cmd.CommandPath()))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if tls12 && tls13 {
				return UsageError(errors.New("--tls1.2 and --tls1.3 exclude each other: pick one, or neither to negotiate"))
			}
			if len(args) == 0 {
				if o.ClientCertFile == "" {
					return UsageError(fmt.Errorf("nothing to inspect: give a target (https://host, host:port, http://host) or --cert FILE\nRun '%s --help' for usage.", cmd.CommandPath()))
				}
				for flag, set := range map[string]bool{"--key": o.ClientKeyFile != "", "--sni": o.ServerName != "", "--request": o.Request, "--wire": wireOut, "--tls1.2": tls12, "--tls1.3": tls13} {
					if set {
						return UsageError(fmt.Errorf("%s needs a target to connect to; without one, inspect reads --cert FILE offline", flag))
					}
				}
				return runOfflineInspect(g, inspect.OfflineOptions{CertFile: o.ClientCertFile, ChainFile: chainFile, CAFile: o.CAFile, Name: name}, at, jsonOut)
			}
			for flag, val := range map[string]string{"--chain": chainFile, "--name": name, "--at": at} {
				if val != "" {
					return UsageError(fmt.Errorf("%s is for offline mode (--cert FILE without a target); when connecting use --sni to choose the name", flag))
				}
			}
			o.Target = args[0]
			switch {
			case tls12:
				o.Version = 0x0303
			case tls13:
				o.Version = 0x0304
			}
			tr, err := inspect.Run(cmd.Context(), o)
			var ue *inspect.UsageError
			if errors.As(err, &ue) {
				return UsageError(err)
			}
			if tr != nil {
				if perr := printTrace(g, tr, jsonOut, wireOut); perr != nil {
					return perr
				}
			}
			if err != nil {
				return err
			}
			return verdict(tr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.CAFile, "ca", "", "verify against the roots in `FILE` (PEM or DER) instead of the system's")
	f.StringVar(&o.ClientCertFile, "cert", "", "client certificate `FILE` to offer; without a target, the certificate to inspect offline")
	f.StringVar(&o.ClientKeyFile, "key", "", "private key `FILE` of the client certificate")
	f.StringVar(&o.ServerName, "sni", "", "server `NAME` to send and verify (default: the target's host)")
	f.BoolVar(&tls12, "tls1.2", false, "offer TLS 1.2 only")
	f.BoolVar(&tls13, "tls1.3", false, "offer TLS 1.3 only")
	f.BoolVar(&o.Request, "request", false, "send an HTTP GET once the server is verified, and show status and security headers")
	f.BoolVar(&wireOut, "wire", false, "list every record with direction, type, length, plaintext or encrypted, and a hex excerpt")
	f.BoolVar(&jsonOut, "json", false, "print the trace as JSON (schema in docs/inspect.md)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "give up on the connection after this `DURATION`")
	f.StringVar(&chainFile, "chain", "", "offline: intermediate certificates `FILE`")
	f.StringVar(&name, "name", "", "offline: host `NAME` the certificate must be valid for")
	f.StringVar(&at, "at", "", "offline: verify as of `TIME` (RFC 3339 or YYYY-MM-DD; default now)")
	return cmd
}

func runOfflineInspect(g *Globals, o inspect.OfflineOptions, at string, jsonOut bool) error {
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			if t, err = time.Parse(time.DateOnly, at); err != nil {
				return UsageError(fmt.Errorf("--at %q: expected RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", at))
			}
		}
		o.At = t
	}
	tr, err := inspect.Offline(o)
	if err != nil {
		return UsageError(err)
	}
	if err := printTrace(g, tr, jsonOut, false); err != nil {
		return err
	}
	return verdict(tr)
}

// verdict turns a completed trace into the exit status.
func verdict(tr *inspect.Trace) error {
	if v := tr.Verification; v != nil && !v.Verified {
		return CheckFailed(errors.New("certificate not verified: " + v.Reason))
	}
	if h := tr.HTTP; tr.Mode == "http" && h != nil && !h.RedirectsToHTTPS {
		return CheckFailed(fmt.Errorf("%s://%s answered over plain HTTP (status %d) instead of redirecting to https://: redirect it, e.g. with tlsgate serve", tr.Target.Scheme, tr.Target.Host+":"+tr.Target.Port, h.Status))
	}
	return nil
}

func printTrace(g *Globals, tr *inspect.Trace, jsonOut, wireOut bool) error {
	if jsonOut {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(tr)
	}
	tr.WriteText(g.Stdout, inspect.TextOptions{Color: inspectWantsColor(g.Stdout), Wire: wireOut})
	return nil
}

// inspectWantsColor reports whether w is a terminal that wants colour.
func inspectWantsColor(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
