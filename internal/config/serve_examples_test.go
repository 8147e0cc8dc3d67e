package config

import (
	"path/filepath"
	"testing"
)

// TestServeExamples keeps examples/*.yaml, which docs/config.md points to,
// valid.
func TestServeExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, p := range paths {
		if _, err := Load(p); err != nil {
			t.Errorf("%v", err)
		}
	}
}
