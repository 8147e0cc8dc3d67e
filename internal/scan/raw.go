package scan

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/tlsgate/tlsgate/internal/wire"
)

// helloSpec describes one raw ClientHello a probe sends.
type helloSpec struct {
	version     uint16 // the version offered (SSL 3.0 .. TLS 1.3)
	suites      []uint16
	groups      []uint16 // supported_groups; nil: defaultGroups
	sigSchemes  []uint16 // signature_algorithms; nil: defaultSignatureSchemes
	noKeyShare  bool     // TLS 1.3: send an empty key_share to provoke a HelloRetryRequest
	compression bool     // offer DEFLATE before null
	heartbeat   bool     // offer the heartbeat extension
	fallback    bool     // add TLS_FALLBACK_SCSV
	readToDone  bool     // read up to ServerHelloDone (certificate, key exchange)
	sessionID   []byte   // a session to resume (TLS 1.2 and earlier)
	keepOpen    bool     // hand the connection back to the caller
}

// exchange is what the server answered to one raw ClientHello.
type exchange struct {
	hello    *wire.ServerHello
	version  uint16 // negotiated version
	alert    *wire.Alert
	certs    [][]byte
	ske      []byte // ServerKeyExchange message, decoded once the suite's key exchange is known
	status   bool   // CertificateStatus (stapled OCSP) was sent
	certReq  bool   // CertificateRequest: the server asks for a client certificate
	helloEnd bool   // ServerHelloDone was read
	conn     *conn
	reader   *wire.Reader
}

// accepted reports whether the server agreed to a handshake (a
// HelloRetryRequest counts: the server picked version and suite).
func (e *exchange) accepted() bool { return e != nil && e.hello != nil }

const (
	scsvRenegotiation = 0x00ff
	scsvFallback      = 0x5600
)

// buildHello turns a spec into a wire ClientHello.
func (rn *run) buildHello(sp helloSpec) (*wire.ClientHello, error) {
	ch := &wire.ClientHello{Version: sp.version, CipherSuites: append([]uint16(nil), sp.suites...), SessionID: sp.sessionID}
	if _, err := rand.Read(ch.Random[:]); err != nil {
		return nil, err
	}
	ch.CompressionMethods = []uint8{0}
	if sp.compression {
		ch.CompressionMethods = []uint8{1, 0}
	}
	if sp.fallback {
		ch.CipherSuites = append(ch.CipherSuites, scsvFallback)
	}
	if sp.version == VersionSSL30 {
		// SSL 3.0 has no extensions; the SCSV asks for secure renegotiation.
		ch.CipherSuites = append(ch.CipherSuites, scsvRenegotiation)
		return ch, nil
	}
	groups := sp.groups
	if groups == nil {
		groups = defaultGroups()
	}
	schemes := sp.sigSchemes
	if schemes == nil {
		schemes = defaultSignatureSchemes()
	}
	var ext []wire.Extension
	if rn.sni != "" {
		ext = append(ext, wire.ServerNameExtension(rn.sni))
	}
	ext = append(ext,
		wire.SupportedGroupsExtension(groups),
		wire.ECPointFormatsExtension([]uint8{0}),
		wire.RenegotiationInfoExtension(nil),
	)
	if sp.version >= VersionTLS12 {
		ext = append(ext, wire.SignatureAlgorithmsExtension(wire.ExtSignatureAlgorithms, schemes))
	}
	if sp.heartbeat {
		ext = append(ext, wire.HeartbeatExtension(wire.HeartbeatPeerAllowed))
	}
	if sp.sessionID != nil {
		// crypto/tls sessions use the extended master secret; a server must
		// refuse to resume one for a hello without it (RFC 7627 5.3).
		ext = append(ext, wire.EmptyExtension(wire.ExtExtendedMasterSecret))
	}
	if sp.version == VersionTLS13 {
		ch.Version = VersionTLS12
		ch.SessionID = make([]byte, 32)
		if _, err := rand.Read(ch.SessionID); err != nil {
			return nil, err
		}
		var shares []wire.KeyShare
		if !sp.noKeyShare {
			ks, err := keyShareFor(groups)
			if err != nil {
				return nil, err
			}
			if ks != nil {
				shares = append(shares, *ks)
			}
		}
		ext = append(ext,
			wire.SupportedVersionsExtension([]uint16{VersionTLS13}),
			wire.KeyShareExtension(shares),
			wire.PSKKeyExchangeModesExtension([]uint8{1}),
		)
	}
	ch.Extensions = ext
	// Some TLS stacks (older F5 load balancers) hang on a ClientHello
	// record of 256 to 511 bytes; pad such a hello to 512 as browsers do
	// (RFC 7685).
	if b, err := ch.Marshal(); err == nil && len(b) >= 256 && len(b) < 512 {
		pad := 512 - len(b) - 4 // the padding extension's own header
		ch.Extensions = append(ch.Extensions, wire.PaddingExtension(max(pad, 0)))
	}
	return ch, nil
}

// keyShareFor makes a throwaway public key for the first offered group that
// crypto/ecdh knows. The private half is dropped: probes never finish the
// handshake, they only need the server to pick a suite.
func keyShareFor(groups []uint16) (*wire.KeyShare, error) {
	for _, g := range groups {
		var c ecdh.Curve
		switch g {
		case 29:
			c = ecdh.X25519()
		case 23:
			c = ecdh.P256()
		case 24:
			c = ecdh.P384()
		case 25:
			c = ecdh.P521()
		default:
			continue
		}
		k, err := c.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return &wire.KeyShare{Group: g, Data: k.PublicKey().Bytes()}, nil
	}
	return nil, nil
}

// hello sends one raw ClientHello and reads the answer. A refusal (alert,
// closed connection) is not an error: the exchange says what happened. An
// error means the probe could not be carried out.
func (rn *run) hello(ctx context.Context, sp helloSpec) (*exchange, error) {
	ch, err := rn.buildHello(sp)
	if err != nil {
		return nil, err
	}
	recVersion := VersionTLS10
	if sp.version == VersionSSL30 {
		recVersion = VersionSSL30
	}
	out, err := ch.Records(recVersion, 0)
	if err != nil {
		return nil, err
	}
	c, err := rn.budget.dial(ctx, rn.addr)
	if err != nil {
		return nil, err
	}
	ex := &exchange{conn: c, reader: wire.NewReader(c)}
	defer func() {
		if !sp.keepOpen {
			c.Close()
			ex.conn = nil
		}
	}()
	if _, err := c.Write(out); err != nil {
		return ex, nil // a server that resets on our hello refused it
	}
	err = readAnswer(ex, sp.readToDone)
	if err != nil && ex.hello == nil && isTimeout(err) {
		return ex, fmt.Errorf("no answer from %s within the timeout: %w", rn.addr, err)
	}
	if err != nil && !isTimeout(err) && errors.Is(err, errUndecodable) {
		return ex, fmt.Errorf("%s: %w", rn.addr, err)
	}
	return ex, nil
}

var errUndecodable = errors.New("undecodable ServerHello")

// readAnswer reads the server's answer to a ClientHello into ex: an alert,
// or a ServerHello and, with toDone, the cleartext messages up to
// ServerHelloDone. It reads at most 16 messages. The bytes are the server's
// and untrusted; FuzzReadAnswer feeds it garbage.
func readAnswer(ex *exchange, toDone bool) error {
	for i := 0; i < 16; i++ {
		m, err := ex.reader.Next()
		if err != nil {
			return err
		}
		switch {
		case m.Type == wire.TypeAlert:
			if a, err := wire.ParseAlert(m.Data); err == nil {
				ex.alert = &a
			}
			return nil
		case m.Type != wire.TypeHandshake || m.Handshake == nil:
			return nil
		}
		raw, err := m.Handshake.Marshal()
		if err != nil {
			return nil
		}
		switch m.Handshake.Type {
		case wire.TypeServerHello:
			sh, err := wire.ParseServerHello(raw)
			if err != nil {
				return fmt.Errorf("%w: %v", errUndecodable, err)
			}
			v, err := sh.SelectedVersion()
			if err != nil {
				return fmt.Errorf("%w: %v", errUndecodable, err)
			}
			ex.hello, ex.version = sh, v
			if !toDone || v >= VersionTLS13 || sh.IsHelloRetryRequest() {
				return nil
			}
		case wire.TypeCertificate:
			if cm, err := wire.ParseCertificate(raw); err == nil {
				ex.certs = cm.Certificates
			}
		case wire.TypeServerKeyExchange:
			ex.ske = raw
		case wire.TypeCertificateStatus:
			ex.status = true
		case wire.TypeCertificateRequest:
			ex.certReq = true
		case wire.TypeServerHelloDone:
			ex.helloEnd = true
			return nil
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// sslv2Specs are the seven SSL 2.0 cipher kinds.
var sslv2Specs = []uint32{0x010080, 0x020080, 0x030080, 0x040080, 0x050080, 0x060040, 0x0700c0}

// helloSSLv2 sends an SSL 2.0 CLIENT-HELLO; a SERVER-HELLO back means the
// server speaks SSL 2.0.
func (rn *run) helloSSLv2(ctx context.Context) (*wire.SSLv2ServerHello, error) {
	challenge := make([]byte, 16)
	if _, err := rand.Read(challenge); err != nil {
		return nil, err
	}
	ch := &wire.SSLv2ClientHello{Version: VersionSSL20, CipherSpecs: sslv2Specs, Challenge: challenge}
	out, err := ch.Marshal()
	if err != nil {
		return nil, err
	}
	c, err := rn.budget.dial(ctx, rn.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Write(out); err != nil {
		return nil, nil
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(c, hdr); err != nil || hdr[0]&0x80 == 0 {
		return nil, nil // closed, or a TLS record (an alert): no SSL 2.0
	}
	n := int(hdr[0]&0x7f)<<8 | int(hdr[1])
	rec := make([]byte, 2+n)
	copy(rec, hdr)
	if _, err := io.ReadFull(c, rec[2:]); err != nil {
		return nil, nil
	}
	sh, err := wire.ParseSSLv2ServerHello(rec)
	if err != nil {
		return nil, nil
	}
	return sh, nil
}
