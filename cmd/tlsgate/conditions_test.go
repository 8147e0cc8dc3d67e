package main

import (
	"fmt"

	"github.com/tlsgate/tlsgate/internal/testtool"
)

// scriptCondition adds [ci] (running under CI=true) to testscript's own
// conditions such as [exec:openssl].
func scriptCondition(cond string) (bool, error) {
	if cond == "ci" {
		return testtool.InCI(), nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
