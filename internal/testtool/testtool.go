// Package testtool lets tests use real external peers (openssl, curl, nginx,
// testssl.sh, ...) and decides what happens when one is missing: a local run
// skips the test with a message, a CI run (CI=true) fails it, so CI proves
// that every interoperability test really ran.
package testtool

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI, where a missing tool is a
// failure rather than a reason to skip.
func InCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Need returns the absolute path of the named program. When it is not on
// PATH the test is skipped locally and fails under CI.
func Need(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	Missing(t, name)
	return ""
}

// Missing skips (locally) or fails (under CI) the test because the named
// tool or service is unavailable. Use it for needs that are not a program on
// PATH, such as a PostgreSQL server that does not answer.
func Missing(t testing.TB, name string) {
	t.Helper()
	if InCI() {
		t.Fatalf("needs %s: it is missing under CI; .ci/run must install it", name)
	}
	t.Skipf("needs %s: install it or run .ci/run", name)
}
