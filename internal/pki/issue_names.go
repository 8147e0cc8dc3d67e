package pki

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
)

// IssueServerCertificate issues a server certificate for names, each a DNS
// name or an IP literal, and returns it ready to serve. Its signature is
// that of a certificate source's issue function, so the gateway and the
// tunnel hand it over as it is.
func (ca *CA) IssueServerCertificate(ctx context.Context, names []string) (*tls.Certificate, error) {
	req := Request{Profile: ProfileServer}
	for _, n := range names {
		if ip, err := netip.ParseAddr(n); err == nil {
			req.IPs = append(req.IPs, net.IP(ip.AsSlice()))
		} else {
			req.DNS = append(req.DNS, n)
		}
	}
	is, err := ca.IssueLeaf(ctx, req)
	if err != nil {
		return nil, err
	}
	return is.TLSCertificate, nil
}
