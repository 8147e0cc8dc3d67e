package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tlsgate/tlsgate/internal/store"
)

var errReadOnly = errors.New("the CA was opened without its keys and cannot sign")

// Profile names what a leaf certificate is for.
type Profile string

// The leaf profiles.
const (
	ProfileServer Profile = "server" // serverAuth
	ProfileClient Profile = "client" // clientAuth
	ProfilePeer   Profile = "peer"   // both, for service-to-service mTLS
)

// Profiles lists the leaf profiles.
var Profiles = []Profile{ProfileServer, ProfileClient, ProfilePeer}

// ParseProfile checks a --profile value.
func ParseProfile(s string) (Profile, error) {
	for _, p := range Profiles {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown profile %q; expected server, client or peer", s)
}

func (p Profile) extKeyUsage() []x509.ExtKeyUsage {
	switch p {
	case ProfileServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case ProfileClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case ProfilePeer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return nil
}

// Validity limits for leaves.
const (
	DefaultValidity = 90 * 24 * time.Hour
	MaxValidity     = 398 * 24 * time.Hour
	MinValidity     = 5 * time.Minute
	backdate        = time.Minute
)

// Request describes a leaf certificate to issue. At least one name (DNS,
// IP, URI or email) is required; CommonName is optional and, for server
// and peer certificates, must repeat one of the names.
type Request struct {
	Profile    Profile
	CommonName string
	DNS        []string
	IPs        []net.IP
	URIs       []string
	Emails     []string
	Validity   time.Duration // default 90 days, between 5 minutes and 398 days
	KeyType    KeyType       // key to generate when PublicKey is nil; default ecdsa-p256
	// PublicKey, when set, is certified instead of a generated key (CSR
	// signing, renewal without rekey); Issued then carries no private key.
	PublicKey crypto.PublicKey

	action string // audit action: issue, sign, renew
	note   string // added to the audit entry
}

// Issued is a freshly issued certificate, already recorded in the store.
type Issued struct {
	Leaf     *x509.Certificate
	Serial   string
	CertPEM  []byte // the leaf alone
	ChainPEM []byte // leaf then intermediate: what a server sends (cert.pem)
	KeyPEM   []byte // PKCS#8, unencrypted; nil when the request carried a public key
	Key      crypto.Signer
	// TLSCertificate is ready for tls.Config.Certificates (nil without key).
	TLSCertificate *tls.Certificate
}

// RenewAt is when the certificate should be replaced: two thirds into its
// lifetime.
func (i *Issued) RenewAt() time.Time { return RenewAt(i.Leaf) }

// RenewAt returns the point two thirds into c's lifetime.
func RenewAt(c *x509.Certificate) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(life * 2 / 3)
}

// LocalServerRequest is the request `tlsgate serve` makes of its local CA:
// a server certificate for localhost, 127.0.0.1, ::1 and this host's name.
func LocalServerRequest() Request {
	r := Request{Profile: ProfileServer, DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	if h, err := os.Hostname(); err == nil {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if h != "localhost" && checkDNSName(h) == nil {
			r.DNS = append(r.DNS, h)
		}
	}
	return r
}

// NewSerial returns a positive serial of 128 bits from crypto/rand (the
// top bit cleared so the DER encoding stays positive and at most 16 bytes).
func NewSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		b[0] &= 0x7f
		n := new(big.Int).SetBytes(b)
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives the key identifier from the subjectPublicKey bits:
// SHA-256 truncated to 160 bits (RFC 7093, method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// IssueLeaf checks req against the CA's policy, signs the certificate with
// the intermediate, records it in the store (durably) and only then returns
// it.
func (ca *CA) IssueLeaf(ctx context.Context, req Request) (*Issued, error) {
	if ca.interKey == nil {
		return nil, errReadOnly
	}
	tmpl, err := ca.leafTemplate(req)
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	pub := req.PublicKey
	if pub == nil {
		if key, err = GenerateKey(req.KeyType); err != nil {
			return nil, err
		}
		pub = key.Public()
	}
	kt, err := KeyTypeOf(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if strings.HasPrefix(string(kt), "rsa-") && req.Profile != ProfileClient {
		// TLS 1.2 RSA key exchange encrypts to the key; ECDSA and Ed25519
		// keys never encipher.
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if tmpl.SubjectKeyId, err = subjectKeyID(pub); err != nil {
		return nil, err
	}
	action := req.action
	if action == "" {
		action = "issue"
	}
	var leaf *x509.Certificate
	for attempt := 0; ; attempt++ {
		if tmpl.SerialNumber, err = NewSerial(); err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, pub, ca.interKey)
		if err != nil {
			return nil, fmt.Errorf("sign certificate: %w", err)
		}
		if leaf, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		if err := ca.checkChain(leaf); err != nil {
			return nil, err
		}
		rec := recordOf(leaf, issuerIntermed, string(req.Profile))
		ev := store.Event{Time: ca.now(), Actor: ca.actor, Action: action, Serial: rec.Serial,
			Detail: fmt.Sprintf("profile %s, key %s, names %s, not after %s", req.Profile, kt, strings.Join(rec.SANs, " "), leaf.NotAfter.UTC().Format(time.RFC3339))}
		if req.note != "" {
			ev.Detail += "; " + req.note
		}
		err = ca.store.PutCertificate(ctx, rec, ev)
		if err == nil {
			break
		}
		// 2^-127 per pair; retrying is cheaper than reasoning about it.
		if errors.Is(err, store.ErrDuplicateSerial) && attempt < 3 {
			continue
		}
		return nil, err
	}
	out := &Issued{Leaf: leaf, Serial: SerialString(leaf.SerialNumber), CertPEM: pemCert(leaf.Raw), Key: key}
	out.ChainPEM = append(append([]byte(nil), out.CertPEM...), ca.interPEM...)
	if key != nil {
		if out.KeyPEM, err = MarshalKey(key, nil); err != nil {
			return nil, err
		}
		out.TLSCertificate = &tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.inter.Raw}, PrivateKey: key, Leaf: leaf}
	}
	return out, nil
}

// checkChain verifies the new certificate up to the root with crypto/x509,
// which enforces the intermediate's name constraints; a name outside them
// is refused before anything is recorded. Without constraints there is
// nothing to learn: x509.CreateCertificate already checked the signature.
func (ca *CA) checkChain(leaf *x509.Certificate) error {
	if !ca.constrained() {
		return nil
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         ca.rootPool,
		Intermediates: ca.interPool,
		CurrentTime:   leaf.NotBefore.Add(backdate),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return nil
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.CANotAuthorizedForThisName {
		return fmt.Errorf("%w: a requested name is outside the intermediate's name constraints (%s): %v", ErrPolicy, ca.constraintsText(), err)
	}
	return fmt.Errorf("issued certificate does not verify to the root: %w", err)
}

func (ca *CA) constrained() bool {
	c := ca.inter
	return len(c.PermittedDNSDomains)+len(c.ExcludedDNSDomains)+len(c.PermittedIPRanges)+len(c.ExcludedIPRanges)+
		len(c.PermittedEmailAddresses)+len(c.ExcludedEmailAddresses)+len(c.PermittedURIDomains)+len(c.ExcludedURIDomains) > 0
}

func (ca *CA) constraintsText() string {
	var parts []string
	for _, d := range ca.inter.PermittedDNSDomains {
		parts = append(parts, "dns "+d)
	}
	for _, n := range ca.inter.PermittedIPRanges {
		parts = append(parts, "ip "+n.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return "permitted " + strings.Join(parts, ", ")
}

// leafTemplate validates req and turns it into a certificate template
// (without key-dependent fields).
func (ca *CA) leafTemplate(req Request) (*x509.Certificate, error) {
	if _, err := ParseProfile(string(req.Profile)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	validity := req.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	if validity > MaxValidity {
		return nil, fmt.Errorf("%w: validity %s exceeds the maximum of 398 days; ask for --validity 398d or less", ErrPolicy, FormatDuration(validity))
	}
	if validity < MinValidity {
		return nil, fmt.Errorf("%w: validity %s is below the minimum of 5 minutes", ErrPolicy, FormatDuration(validity))
	}
	if len(req.DNS)+len(req.IPs)+len(req.URIs)+len(req.Emails) == 0 {
		return nil, fmt.Errorf("%w: no subject alternative name: give at least one --dns, --ip, --uri or --email", ErrPolicy)
	}
	tmpl := &x509.Certificate{
		BasicConstraintsValid: true,
		ExtKeyUsage:           req.Profile.extKeyUsage(),
	}
	seen := map[string]bool{}
	for _, d := range req.DNS {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if err := checkDNSName(d); err != nil {
			return nil, fmt.Errorf("%w: DNS name %q: %v", ErrPolicy, d, err)
		}
		if !seen["dns:"+d] {
			seen["dns:"+d] = true
			tmpl.DNSNames = append(tmpl.DNSNames, d)
		}
	}
	for _, ip := range req.IPs {
		if ip == nil || ip.IsUnspecified() {
			return nil, fmt.Errorf("%w: IP address %v cannot be certified", ErrPolicy, ip)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !seen["ip:"+ip.String()] {
			seen["ip:"+ip.String()] = true
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		}
	}
	for _, s := range req.URIs {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "") {
			return nil, fmt.Errorf("%w: URI %q must be absolute with a scheme and host, e.g. spiffe://example.org/api", ErrPolicy, s)
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	for _, e := range req.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || a.Name != "" {
			return nil, fmt.Errorf("%w: email %q is not a bare address like name@example.org", ErrPolicy, e)
		}
		tmpl.EmailAddresses = append(tmpl.EmailAddresses, e)
	}
	if cn := req.CommonName; cn != "" {
		if len(cn) > 64 {
			return nil, fmt.Errorf("%w: common name %q is longer than 64 characters", ErrPolicy, cn)
		}
		if req.Profile != ProfileClient && !nameListed(cn, tmpl) {
			return nil, fmt.Errorf("%w: common name %q of a %s certificate must also be one of its --dns or --ip names", ErrPolicy, cn, req.Profile)
		}
		tmpl.Subject = pkix.Name{CommonName: cn}
	}
	now := ca.now()
	tmpl.NotBefore = now.Add(-backdate).Truncate(time.Second)
	tmpl.NotAfter = tmpl.NotBefore.Add(validity - time.Second)
	if tmpl.NotAfter.After(ca.inter.NotAfter) {
		return nil, fmt.Errorf("%w: the certificate would outlive the intermediate CA, which expires on %s; ask for a shorter --validity", ErrPolicy, ca.inter.NotAfter.UTC().Format("2006-01-02"))
	}
	ca.mu.Lock()
	base := ca.settings.PublicURL
	ca.mu.Unlock()
	if base != "" {
		tmpl.CRLDistributionPoints = []string{base + "/crl/intermediate.crl"}
		tmpl.OCSPServer = []string{base + "/ocsp"}
		tmpl.IssuingCertificateURL = []string{base + "/ca/intermediate.cer"}
	}
	return tmpl, nil
}

func nameListed(cn string, t *x509.Certificate) bool {
	for _, d := range t.DNSNames {
		if strings.EqualFold(d, cn) {
			return true
		}
	}
	for _, ip := range t.IPAddresses {
		if ip.String() == cn {
			return true
		}
	}
	return false
}

// checkDNSName accepts a lowercase host name of LDH labels, optionally
// with a wildcard as the whole leftmost label.
func checkDNSName(d string) error {
	if d == "" {
		return errors.New("empty name")
	}
	if len(d) > 253 {
		return errors.New("longer than 253 characters")
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 2 {
			continue
		}
		if l == "" || len(l) > 63 {
			return errors.New("has an empty label or one longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("label %q has character %q; only a-z, 0-9 and - are allowed (wildcard * only as the whole first label)", l, c)
			}
		}
	}
	return nil
}

// recordOf turns a certificate into the store's record.
func recordOf(c *x509.Certificate, issuer, profile string) store.Certificate {
	var sans []string
	sans = append(sans, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	for _, u := range c.URIs {
		sans = append(sans, u.String())
	}
	sans = append(sans, c.EmailAddresses...)
	return store.Certificate{Serial: SerialString(c.SerialNumber), Issuer: issuer, Profile: profile, Subject: c.Subject.String(),
		SANs: sans, NotBefore: c.NotBefore, NotAfter: c.NotAfter, DER: c.Raw}
}

// FormatDuration prints durations the way --validity takes them.
func FormatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// ParseDuration accepts Go durations plus a "d" (days) suffix: 90d, 12h, 5m.
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int64
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n || days <= 0 || days > 100000 {
			return 0, fmt.Errorf("duration %q: expected a whole number of days like 90d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration %q: expected e.g. 90d, 12h or 30m", s)
	}
	return d, nil
}
