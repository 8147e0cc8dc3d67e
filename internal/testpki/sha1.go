package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidECDSAWithSHA1 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
)

// resignSHA1 rewrites a DER certificate so that it is signed with SHA-1 by
// issuerKey. crypto/x509 no longer signs with SHA-1, yet tests must show that
// tlsgate recognises such certificates, so this replaces the signature
// algorithm in the to-be-signed part, and signs a SHA-1 digest of it with the
// issuer's crypto.Signer. Only the fixture is built here; no verification.
func resignSHA1(der []byte, issuerKey crypto.Signer) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	withNull := false
	switch issuerKey.(type) {
	case *rsa.PrivateKey:
		oid, withNull = oidSHA1WithRSA, true
	case *ecdsa.PrivateKey:
		oid = oidECDSAWithSHA1
	default:
		return nil, fmt.Errorf("SHA-1 signatures need an RSA or ECDSA issuer key, not %T", issuerKey)
	}
	var alg cryptobyte.Builder
	alg.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if withNull {
			b.AddASN1NULL()
		}
	})
	algDER, err := alg.Bytes()
	if err != nil {
		return nil, err
	}

	input := cryptobyte.String(der)
	var certBody, tbsBody, version, serial, oldAlg cryptobyte.String
	if !input.ReadASN1(&certBody, cbasn1.SEQUENCE) || !certBody.ReadASN1(&tbsBody, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed certificate")
	}
	versionTag := cbasn1.Tag(0).Constructed().ContextSpecific()
	if tbsBody.PeekASN1Tag(versionTag) && !tbsBody.ReadASN1Element(&version, versionTag) {
		return nil, errors.New("malformed certificate version")
	}
	if !tbsBody.ReadASN1Element(&serial, cbasn1.INTEGER) || !tbsBody.ReadASN1Element(&oldAlg, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed certificate serial or signature algorithm")
	}

	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(version)
		b.AddBytes(serial)
		b.AddBytes(algDER)
		b.AddBytes(tbsBody) // issuer, validity, subject, key, extensions: unchanged
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, err
	}
	digest := sha1.Sum(tbsDER)
	sig, err := issuerKey.Sign(rand.Reader, digest[:], crypto.SHA1)
	if err != nil {
		return nil, err
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddBytes(algDER)
		b.AddASN1BitString(sig)
	})
	return out.Bytes()
}
