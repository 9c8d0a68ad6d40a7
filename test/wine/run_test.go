//go:build linux

package wine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSkipsPairsEachSkipWithItsReason(t *testing.T) {
	out := []byte(`=== RUN   TestA
    a_test.go:9: skipped under Wine: no symlinks
--- SKIP: TestA (0.00s)
=== RUN   TestB
--- PASS: TestB (0.00s)
=== RUN   TestC
=== RUN   TestC/sub
    c_test.go:3: skipped under Wine: no rename
    --- SKIP: TestC/sub (0.00s)
--- PASS: TestC (0.00s)
`)
	want := []string{"TestA: a_test.go:9: skipped under Wine: no symlinks", "TestC/sub: c_test.go:3: skipped under Wine: no rename"}
	if got := skips(out); !slices.Equal(got, want) {
		t.Errorf("skips:\n got %q\nwant %q", got, want)
	}
}

func TestRemoveTreeRemovesDeepestFirst(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "a")
	for _, p := range []string{"a/b/c", "a/b-x", "a/b.y/z"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeTree(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", root, err)
	}
}
