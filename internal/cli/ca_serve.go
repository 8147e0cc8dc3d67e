package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func init() { caSubcommands = append(caSubcommands, newCAServeCommand) }

func newCAServeCommand(g *Globals, f *caFlags) *cobra.Command {
	var listen, publicURL string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Publish the CRLs, an OCSP responder and the root over HTTP",
		Long: `tlsgate ca serve publishes over plain HTTP (CRLs and OCSP answers are signed):

  GET  /crl/intermediate.crl   CRL of issued certificates (DER)
  GET  /crl/root.crl           CRL of the root (DER)
  POST /ocsp, GET /ocsp/{req}  OCSP responder (RFC 6960)
  GET  /ca/root.pem            root certificate; /ca/chain.pem intermediate + root
  GET  /root/{sha256}          the root, if its fingerprint matches (tlsgate ca bootstrap)

--public-url records where clients reach this server; certificates issued
from then on carry it as CRL distribution point and OCSP/issuer location.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ca, err := f.openCA(ctx, g)
			if err != nil {
				return err
			}
			defer ca.Close()
			if publicURL != "" {
				if err := ca.SetPublicURL(ctx, publicURL); err != nil {
					return UsageError(fmt.Errorf("--public-url: %w", err))
				}
			}
			pub, err := ca.NewPublisher(ctx, g.Logger)
			if err != nil {
				return caError(err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w; choose a free address", listen, err)
			}
			srv := &http.Server{
				Handler:           pub.Handler(),
				ReadHeaderTimeout: 5 * time.Second,
				ReadTimeout:       10 * time.Second,
				WriteTimeout:      10 * time.Second,
				IdleTimeout:       60 * time.Second,
				MaxHeaderBytes:    16 << 10,
			}
			fmt.Fprintf(g.Stdout, "serving CRL, OCSP and root on http://%s\nroot fingerprint %s\n", ln.Addr(), ca.RootFingerprint())
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return err
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8889", "address to listen on")
	cmd.Flags().StringVar(&publicURL, "public-url", "", "base URL clients use to reach this server, e.g. http://ca.internal:8889")
	return cmd
}
