package fuzzinput

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CheckSeedFile checks that the fuzz target's corpus file dir/name holds
// data, so that `go test` (which runs the files under testdata/fuzz, not
// the seeds in code) runs exactly the seeds the code lists. With the
// environment variable MODEL_WRITE_SEEDS=1 it writes the file instead.
func CheckSeedFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	file := filepath.Join(dir, name)
	content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	if os.Getenv("MODEL_WRITE_SEEDS") == "1" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, err := os.ReadFile(file); err != nil || string(got) != content {
		t.Errorf("seed %s is missing or stale in %s: run with MODEL_WRITE_SEEDS=1", name, dir)
	}
}
