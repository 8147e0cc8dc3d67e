package scan

import (
	"strings"
	"testing"
)

func TestSummaryNamesAFailedTargetOnce(t *testing.T) {
	var b strings.Builder
	r := &Result{Target: "localhost:27444", Error: "localhost:27444: connect to 127.0.0.1:27444: connection refused; check the host and port, and that the server is running"}
	if err := WriteSummary(&b, []*Result{r}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "localhost:27444"); n != 1 {
		t.Errorf("summary names the target %d times, want once:\n%s", n, b.String())
	}
	if !strings.Contains(b.String(), "connection refused") {
		t.Errorf("summary lost the reason:\n%s", b.String())
	}
}
