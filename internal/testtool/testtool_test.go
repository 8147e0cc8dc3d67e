package testtool

import "testing"

func TestNeedFindsAProgram(t *testing.T) {
	if p := Need(t, "go"); p == "" {
		t.Fatal("Need(go) returned an empty path while go runs this test")
	}
}

func TestInCI(t *testing.T) {
	for _, c := range []struct {
		val  string
		want bool
	}{{"true", true}, {"1", true}, {"", false}, {"false", false}, {"yes", false}} {
		t.Setenv("CI", c.val)
		if got := InCI(); got != c.want {
			t.Errorf("CI=%q: InCI() = %v, want %v", c.val, got, c.want)
		}
	}
}
