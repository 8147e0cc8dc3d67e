package scan

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// candidateSuites are the code points a scan offers for a version: every
// assigned range of the IANA TLS Cipher Suites registry, so that a suite
// the server knows is found even when tlsgate has no name for it.
func candidateSuites(v uint16) []uint16 {
	if v == VersionTLS13 {
		return []uint16{0x1301, 0x1302, 0x1303, 0x1304, 0x1305, 0x00c6, 0x00c7}
	}
	var ids []uint16
	add := func(from, to uint16) {
		for id := from; id <= to; id++ {
			if id != scsvRenegotiation && id != scsvFallback {
				ids = append(ids, id)
			}
		}
	}
	add(0x0001, 0x00c5)
	add(0xc001, 0xc0b5)
	add(0xcca8, 0xccae)
	add(0xd001, 0xd005)
	ids = append(ids, 0xff85, 0xfefe, 0xfeff)
	return ids
}

// describeSuite fills in what is known about a suite. Names and properties
// come from the suite's IANA name.
func describeSuite(id uint16) Suite {
	name := tls.CipherSuiteName(id)
	if strings.HasPrefix(name, "0x") {
		name = fmt.Sprintf("0x%04X", id)
	}
	s := Suite{ID: id, Name: name}
	fillFromName(&s)
	return s
}

// fillFromName derives key exchange, cipher and strength from an IANA
// suite name such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
func fillFromName(s *Suite) {
	n := s.Name
	if !strings.HasPrefix(n, "TLS_") && !strings.HasPrefix(n, "SSL_") {
		return
	}
	kx, cipher, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(n, "TLS_"), "SSL_"), "_WITH_")
	if !ok {
		// TLS 1.3 suites name only the AEAD and the hash.
		s.KeyExchange, cipher = "TLS13", strings.TrimPrefix(n, "TLS_")
		s.FS = true
	} else {
		switch {
		case strings.Contains(kx, "anon"):
			s.Anonymous = true
			s.KeyExchange = strings.SplitN(kx, "_", 2)[0]
		case strings.HasPrefix(kx, "ECDHE"):
			s.KeyExchange = "ECDHE"
		case strings.HasPrefix(kx, "DHE"):
			s.KeyExchange = "DHE"
		case strings.HasPrefix(kx, "ECDH_"):
			s.KeyExchange = "ECDH"
		case strings.HasPrefix(kx, "DH_"):
			s.KeyExchange = "DH"
		case strings.HasPrefix(kx, "RSA"):
			s.KeyExchange = "RSA"
		default:
			s.KeyExchange = strings.SplitN(kx, "_", 2)[0]
		}
		s.FS = (s.KeyExchange == "ECDHE" || s.KeyExchange == "DHE") && !s.Anonymous
		s.Export = strings.Contains(kx, "EXPORT")
		if s.KeyExchange == "DHE" && s.Anonymous {
			s.FS = true
		}
	}
	c := cipher
	for _, h := range []string{"_SHA384", "_SHA256", "_SHA", "_MD5", "_CCM_8", "_CCM"} {
		if strings.HasSuffix(c, h) && !(h == "_CCM" || h == "_CCM_8") {
			c = strings.TrimSuffix(c, h)
			break
		}
	}
	s.Cipher = c
	switch {
	case strings.HasPrefix(c, "NULL"):
		s.Null, s.Bits = true, 0
	case strings.HasPrefix(c, "AES_128"), strings.HasPrefix(c, "CAMELLIA_128"), strings.HasPrefix(c, "ARIA_128"), strings.HasPrefix(c, "SEED"), strings.HasPrefix(c, "SM4"):
		s.Bits = 128
	case strings.HasPrefix(c, "AES_256"), strings.HasPrefix(c, "CAMELLIA_256"), strings.HasPrefix(c, "ARIA_256"), strings.HasPrefix(c, "CHACHA20"):
		s.Bits = 256
	case strings.HasPrefix(c, "3DES"):
		s.Bits, s.BlockBits = 112, 64
	case strings.HasPrefix(c, "IDEA"):
		s.Bits, s.BlockBits = 128, 64
	case strings.HasPrefix(c, "RC4_128"):
		s.Bits, s.RC4 = 128, true
	case strings.HasPrefix(c, "RC4_40"):
		s.Bits, s.RC4 = 40, true
	case strings.HasPrefix(c, "RC2_CBC_40"), strings.HasPrefix(c, "DES40"):
		s.Bits, s.BlockBits = 40, 64
	case strings.HasPrefix(c, "DES_CBC_40"):
		s.Bits, s.BlockBits = 40, 64
	case strings.HasPrefix(c, "DES"):
		s.Bits, s.BlockBits = 56, 64
	}
	s.AEAD = strings.Contains(c, "GCM") || strings.Contains(c, "CCM") || strings.Contains(c, "CHACHA20") || strings.Contains(c, "POLY1305")
	s.CBC = strings.Contains(c, "CBC")
}

// Groups a scan offers, strongest-known first.
func defaultGroups() []uint16 {
	return []uint16{0x11ec, 29, 23, 24, 25, 30, 0x11eb, 0x11ed, 256, 257, 258, 259, 260, 26, 27, 28, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
}

// groupInfo names a group and gives its size in bits (for finite-field
// groups the prime, for curves the order).
func groupInfo(id uint16) (string, int) {
	switch id {
	case 23:
		return "secp256r1", 256
	case 24:
		return "secp384r1", 384
	case 25:
		return "secp521r1", 521
	case 29:
		return "x25519", 253
	case 30:
		return "x448", 448
	case 256:
		return "ffdhe2048", 2048
	case 257:
		return "ffdhe3072", 3072
	case 258:
		return "ffdhe4096", 4096
	case 259:
		return "ffdhe6144", 6144
	case 260:
		return "ffdhe8192", 8192
	case 0x11ec:
		return "X25519MLKEM768", 253
	case 0x11eb:
		return "SecP256r1MLKEM768", 256
	case 0x11ed:
		return "SecP384r1MLKEM1024", 384
	case 26:
		return "brainpoolP256r1", 256
	case 27:
		return "brainpoolP384r1", 384
	case 28:
		return "brainpoolP512r1", 512
	case 22:
		return "secp256k1", 256
	}
	if id >= 1 && id <= 21 {
		bits := []int{0, 163, 163, 163, 193, 193, 233, 233, 239, 283, 283, 409, 409, 571, 571, 160, 160, 160, 192, 192, 224, 224}
		return fmt.Sprintf("sect/secp(%d)", id), bits[id]
	}
	return fmt.Sprintf("0x%04X", id), 0
}

// Signature schemes a scan offers (IANA TLS SignatureScheme).
func defaultSignatureSchemes() []uint16 {
	return []uint16{0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b, 0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0401, 0x0501, 0x0601, 0x0201, 0x0203, 0x0402, 0x0502, 0x0602, 0x0202, 0x0303, 0x0301}
}

func schemeName(id uint16) string {
	if n := tls.SignatureScheme(id).String(); !strings.HasPrefix(n, "SignatureScheme(") {
		return n
	}
	switch id {
	case 0x0202:
		return "DSAWithSHA1"
	case 0x0402:
		return "DSAWithSHA256"
	case 0x0303, 0x0301:
		return fmt.Sprintf("SHA224(0x%04X)", id)
	}
	return fmt.Sprintf("0x%04X", id)
}
