package tlspolicy

import "testing"

func TestBlockBits(t *testing.T) {
	for name, want := range map[string]int{
		"TLS_RSA_WITH_3DES_EDE_CBC_SHA":               64,
		"TLS_RSA_WITH_DES_CBC_SHA":                    64,
		"TLS_RSA_WITH_IDEA_CBC_SHA":                   64,
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":       128,
		"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA":          128,
		"TLS_AES_128_GCM_SHA256":                      128,
		"TLS_RSA_WITH_RC4_128_SHA":                    0,
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0,
		"TLS_RSA_WITH_NULL_SHA256":                    0,
	} {
		c, ok := CipherSuiteByName(name)
		if !ok {
			t.Errorf("%s is not in the registry", name)
			continue
		}
		if got := c.BlockBits(); got != want {
			t.Errorf("%s: BlockBits() = %d, want %d", name, got, want)
		}
	}
}
