package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certPair is one serving certificate on disk in the layouts the servers
// want: separate PEM files (nginx, Caddy, tlsgate) and one combined file
// (HAProxy).
type certPair struct {
	name     string // "ecdsa" or "rsa"
	certFile string
	keyFile  string
	combined string
}

// mintCerts writes a throwaway CA and two leaves for localhost and 127.0.0.1,
// signed by it: ECDSA P-256 and RSA-2048. The chain served is leaf plus CA so
// that every server sends the same bytes.
func mintCerts(dir string) (ecdsaPair, rsaPair certPair, caFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tlsgate bench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	caFile = filepath.Join(dir, "ca.crt")
	if err = os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return
	}
	leaf := func(name string, key crypto.Signer, serial int64) (certPair, error) {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(7 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		if _, isRSA := key.(*rsa.PrivateKey); isRSA {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			return certPair{}, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return certPair{}, err
		}
		chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), caPEM...)
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
		p := certPair{
			name:     name,
			certFile: filepath.Join(dir, name+".crt"),
			keyFile:  filepath.Join(dir, name+".key"),
			combined: filepath.Join(dir, name+".pem"),
		}
		for _, f := range []struct {
			path string
			data []byte
		}{{p.certFile, chain}, {p.keyFile, keyPEM}, {p.combined, append(append([]byte{}, chain...), keyPEM...)}} {
			if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
				return certPair{}, err
			}
		}
		return p, nil
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return
	}
	if ecdsaPair, err = leaf("ecdsa", ek, 2); err != nil {
		err = fmt.Errorf("ECDSA leaf: %w", err)
		return
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return
	}
	if rsaPair, err = leaf("rsa", rk, 3); err != nil {
		err = fmt.Errorf("RSA leaf: %w", err)
	}
	return
}
