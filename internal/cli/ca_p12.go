package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/tlsgate/tlsgate/internal/pki"
)

// caP12Password reads --p12-password-file, else $TLSGATE_P12_PASSWORD, else
// makes a random password.
func caP12Password(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", UsageError(fmt.Errorf("--p12-password-file: %w", err))
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := os.Getenv("TLSGATE_P12_PASSWORD"); p != "" {
		return p, nil
	}
	return pki.RandomPassword()
}

func caWriteP12(ca *pki.CA, is *pki.Issued, path, password string, force bool) error {
	data, err := ca.PKCS12(is, password)
	if err != nil {
		return err
	}
	return caWriteNew(path, data, 0o600, force)
}
