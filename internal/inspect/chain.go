package inspect

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// describeCert reads what a user needs to know about one certificate.
func describeCert(pos int, c *x509.Certificate, now time.Time) CertInfo {
	sum := sha256.Sum256(c.Raw)
	ci := CertInfo{
		Position:           pos,
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		DNSNames:           append([]string{}, c.DNSNames...),
		IPAddresses:        []string{},
		Emails:             c.EmailAddresses,
		SerialNumber:       fmt.Sprintf("%X", c.SerialNumber),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		DaysLeft:           int(math.Floor(c.NotAfter.Sub(now).Hours() / 24)),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		SHA256:             hex.EncodeToString(sum[:]),
		IsCA:               c.IsCA,
		SCTs:               embeddedSCTs(c),
	}
	for _, ip := range c.IPAddresses {
		ci.IPAddresses = append(ci.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		ci.URIs = append(ci.URIs, u.String())
	}
	ci.KeyType, ci.KeyBits = keyOf(c)
	return ci
}

func keyOf(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name, k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return c.PublicKeyAlgorithm.String(), 0
}

// oidSCTList is the X.509 extension that embeds SCTs (RFC 6962 section 3.3).
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

func embeddedSCTs(c *x509.Certificate) []SCTInfo {
	out := []SCTInfo{}
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidSCTList) {
			continue
		}
		var list []byte
		if _, err := asn1.Unmarshal(e.Value, &list); err != nil {
			return out
		}
		scts, err := wire.ParseSCTList(list)
		if err != nil {
			return out
		}
		return parseSCTs(scts)
	}
	return out
}

// parseSCTs reads the log and time of serialized SCTs (RFC 6962 section
// 3.2: version, 32-byte log id, 64-bit millisecond timestamp, ...).
func parseSCTs(scts [][]byte) []SCTInfo {
	out := []SCTInfo{}
	for _, s := range scts {
		if len(s) < 41 || s[0] != 0 {
			continue
		}
		ms := binary.BigEndian.Uint64(s[33:41])
		out = append(out, SCTInfo{LogID: base64.StdEncoding.EncodeToString(s[1:33]), Timestamp: time.UnixMilli(int64(ms)).UTC()})
	}
	return out
}

// describeOCSP reads a stapled OCSP response for leaf.
func describeOCSP(resp []byte, chain []*x509.Certificate) *OCSPInfo {
	if len(resp) == 0 {
		return &OCSPInfo{Stapled: false}
	}
	info := &OCSPInfo{Stapled: true}
	var issuer *x509.Certificate
	if len(chain) > 1 {
		issuer = chain[1]
	}
	r, err := ocsp.ParseResponse(resp, issuer)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	info.Status = map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[r.Status]
	produced, next := r.ProducedAt.UTC(), r.NextUpdate.UTC()
	info.ProducedAt = &produced
	if !r.NextUpdate.IsZero() {
		info.NextUpdate = &next
	}
	if r.Status == ocsp.Revoked {
		at := r.RevokedAt.UTC()
		info.RevokedAt = &at
	}
	return info
}

// LoadCertificates reads every certificate in a PEM or DER file.
func LoadCertificates(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usagef("%v", err)
	}
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, usagef("%s: certificate %d: %v", file, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	certs, err = x509.ParseCertificates(data)
	if err != nil || len(certs) == 0 {
		return nil, usagef("%s: no certificate found: expected PEM (-----BEGIN CERTIFICATE-----) or DER", file)
	}
	return certs, nil
}

// loadRoots returns the trust anchors: the --ca file, else the system's.
func loadRoots(caFile string) (*x509.CertPool, string, error) {
	if caFile == "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, "", usagef("cannot load the system's trusted roots: %v; pass --ca FILE", err)
		}
		return pool, "system", nil
	}
	certs, err := LoadCertificates(caFile)
	if err != nil {
		return nil, "", usagef("--ca: %v", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, caFile, nil
}
