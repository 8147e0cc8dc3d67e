package config

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/authz"
	"github.com/tlsgate/tlsgate/internal/certcheck"
	"github.com/tlsgate/tlsgate/internal/gateway"
	"github.com/tlsgate/tlsgate/internal/tunnel"
)

// DefaultRevocationRefresh is how often CRLs are re-read and OCSP answers
// renewed when revocation.refresh is not set.
const DefaultRevocationRefresh = time.Minute

// clientAuthOf returns a route's effective client_auth: its own, else the
// site's, else off.
func (s *Site) clientAuthOf(r *Route) string {
	switch {
	case r.ClientAuth != "":
		return r.ClientAuth
	case s.ClientAuth != "":
		return s.ClientAuth
	}
	return "off"
}

// usesClientAuth reports whether any route of the site asks for client
// certificates.
func (s *Site) usesClientAuth() bool {
	for i := range s.Routes {
		if s.clientAuthOf(&s.Routes[i]) != "off" {
			return true
		}
	}
	return false
}

func checkClientAuthValue(es *Errors, fl Fields, v string) bool {
	switch v {
	case "", "require", "optional", "off":
		return true
	}
	fl.Add(es, "client_auth", "unknown client_auth %q; expected require, optional or off", v)
	return false
}

// validateClientAuth checks the site's and its routes' client
// authentication; dir resolves relative client_ca and crl paths.
func (s *Site) validateClientAuth(es *Errors, dir string) {
	siteOK := checkClientAuthValue(es, s.Fields, s.ClientAuth)
	for i, p := range s.ClientCA {
		if _, err := LoadPool(resolvePath(dir, p)); err != nil {
			s.Add(es, fmt.Sprintf("client_ca[%d]", i), "%v; give the PEM certificate of the CA that issues client certificates", err)
		}
	}
	if s.Revocation != nil {
		s.Revocation.validate(es, dir, len(s.ClientCA) > 0)
	}
	for i := range s.Routes {
		r := &s.Routes[i]
		if !checkClientAuthValue(es, r.Fields, r.ClientAuth) || !siteOK {
			continue
		}
		if r.Revocation != nil {
			r.Revocation.validate(es, dir, len(s.ClientCA) > 0)
		}
		mode := s.clientAuthOf(r)
		switch {
		case mode == "off" && len(r.Authz) > 0:
			r.Add(es, "authz", "allow rules need client authentication: add client_auth: require (or optional) to the route or its site")
		case mode == "off" && r.Revocation != nil:
			r.Add(es, "revocation", "revocation checks need client authentication: add client_auth: require (or optional) to the route or its site")
		case mode != "off" && len(r.Authz) == 0 && len(s.Authz) == 0:
			fl, key := r.Fields, "client_auth"
			if r.ClientAuth == "" {
				fl = s.Fields
			}
			fl.Add(es, key, "client_auth %s without authz rules would refuse every client of route %s; add authz: [uri:spiffe://DOMAIN/SERVICE] (or [any] for every certificate the client CA issued) to the route or its site", mode, r.Path)
		}
	}
	if !s.usesClientAuth() {
		if len(s.Authz) > 0 {
			s.Add(es, "authz", "allow rules need client authentication: add client_auth: require (or optional) to the site or a route")
		}
		if len(s.ClientCA) > 0 {
			s.Add(es, "client_ca", "client_ca is only used with client authentication: add client_auth: require (or optional) to the site or a route")
		}
	}
}

func (rv *Revocation) validate(es *Errors, dir string, ownCA bool) {
	switch rv.Failure {
	case "", "closed", "open":
	default:
		rv.Add(es, "failure", "unknown failure policy %q; expected closed (refuse clients whose status is unknown) or open (let them pass)", rv.Failure)
	}
	if rv.Refresh != nil && *rv.Refresh < time.Second {
		rv.Add(es, "refresh", "must be at least 1s, e.g. 1m")
	}
	if rv.Local != nil && *rv.Local && ownCA {
		rv.Add(es, "local", "the local CA's store knows only certificates the local CA issued, and client_ca names other CAs; use crl or ocsp for them")
	}
	for i, c := range rv.CRL {
		key := fmt.Sprintf("crl[%d]", i)
		if strings.Contains(c, "://") {
			if u, err := url.Parse(c); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				rv.Add(es, key, "invalid CRL URL %q; expected an http:// or https:// URL or a file path", c)
			}
			continue
		}
		if _, err := tunnel.NewCRLFiles([]string{resolvePath(dir, c)}, time.Hour, nil); err != nil {
			rv.Add(es, key, "%v", err)
		}
	}
	local := rv.Local == nil && !ownCA || rv.Local != nil && *rv.Local
	if !local && len(rv.CRL) == 0 && !rv.OCSP && !rv.CRLDistributionPoint {
		rv.Add(es, "local", "no revocation source: set local: true, crl: [FILE or URL], crl_distribution_point: true or ocsp: true, or drop the revocation block")
	}
}

// LocalClientCA is what client authentication needs from the local CA: its
// root as the trusted pool and its store as a revocation source.
type LocalClientCA struct {
	Roots      *x509.CertPool
	Revocation certcheck.RevocationChecker
}

// clientAuthMode maps a config value to the gateway's.
func clientAuthMode(v string) gateway.ClientAuth {
	switch v {
	case "require":
		return gateway.ClientAuthRequire
	case "optional":
		return gateway.ClientAuthOptional
	}
	return gateway.ClientAuthOff
}

// clientAuth fills the gateway site's client CAs and each route's client
// authentication, allow rules and revocation checks.
func (s *Site) clientAuth(env ServeEnv, gs *gateway.Site) error {
	if !s.usesClientAuth() {
		return nil
	}
	var local *LocalClientCA
	if len(s.ClientCA) > 0 {
		pool := x509.NewCertPool()
		for i, p := range s.ClientCA {
			data, err := os.ReadFile(resolvePath(env.Dir, p))
			if err != nil || !pool.AppendCertsFromPEM(data) {
				_, err = LoadPool(resolvePath(env.Dir, p))
				return positioned(s.Fields, fmt.Sprintf("client_ca[%d]", i), "%v", err)
			}
		}
		gs.ClientCAs = pool
	} else {
		if env.LocalClientCA == nil {
			return positioned(s.Fields, "client_ca", "the local CA is not available here; name the client CA with client_ca: [FILE]")
		}
		l, err := env.LocalClientCA()
		if err != nil {
			return positioned(s.Fields, "client_ca", "local CA: %v", err)
		}
		local = l
		gs.ClientCAs = l.Roots
	}
	siteRev, err := s.Revocation.gateway(env, local)
	if err != nil {
		return err
	}
	if s.Revocation == nil && local != nil {
		// The local CA's own store answers at once, and revoking with
		// tlsgate ca revoke should take effect without configuration.
		siteRev = &gateway.Revocation{Checker: local.Revocation}
	}
	for i := range s.Routes {
		r := &s.Routes[i]
		gr := gs.Routes[i]
		gr.ClientAuth = clientAuthMode(s.clientAuthOf(r))
		if gr.ClientAuth == gateway.ClientAuthOff {
			continue
		}
		rules := r.Authz
		if len(rules) == 0 {
			rules = s.Authz
		}
		gr.Policy = authz.NewPolicy(rules...)
		gr.Revocation = siteRev
		if r.Revocation != nil {
			if gr.Revocation, err = r.Revocation.gateway(env, local); err != nil {
				return err
			}
		}
	}
	return nil
}

// gateway builds the checker a revocation block describes; nil for none.
func (rv *Revocation) gateway(env ServeEnv, local *LocalClientCA) (*gateway.Revocation, error) {
	if rv == nil {
		return nil, nil
	}
	refresh := DefaultRevocationRefresh
	if rv.Refresh != nil {
		refresh = *rv.Refresh
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var checkers tunnel.AllRevocationCheckers
	var runs []func(context.Context)
	if local != nil && (rv.Local == nil || *rv.Local) {
		checkers = append(checkers, local.Revocation)
	}
	var files []string
	for _, c := range rv.CRL {
		if strings.Contains(c, "://") {
			f := gateway.NewCRLURL(c, refresh, log)
			checkers = append(checkers, f)
			runs = append(runs, f.Run)
			continue
		}
		files = append(files, resolvePath(env.Dir, c))
	}
	if len(files) > 0 {
		crls, err := tunnel.NewCRLFiles(files, refresh, log)
		if err != nil {
			return nil, positioned(rv.Fields, "crl", "%v", err)
		}
		checkers = append(checkers, crls)
		runs = append(runs, crls.Run)
	}
	if rv.CRLDistributionPoint {
		checkers = append(checkers, gateway.NewCRLDistributionPoints(refresh))
	}
	if rv.OCSP {
		checkers = append(checkers, gateway.NewOCSPChecker(refresh))
	}
	if len(checkers) == 0 {
		return nil, nil
	}
	out := &gateway.Revocation{Checker: checkers, FailOpen: rv.Failure == "open"}
	if len(checkers) == 1 {
		out.Checker = checkers[0]
	}
	if len(runs) > 0 {
		out.Run = func(ctx context.Context) {
			for _, r := range runs {
				go r(ctx)
			}
		}
	}
	return out, nil
}
