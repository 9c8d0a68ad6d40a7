//go:build linux

package rig

import (
	"os"
	"path/filepath"
	"testing"
)

func TestComponentBuiltNeedsEveryFile(t *testing.T) {
	root := t.TempDir()
	c := component{name: "x", version: "v1", files: []string{"a", "b"}}
	if err := os.MkdirAll(c.dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.dir(root), "a"), nil, 0o755)
	// An interrupted build leaves only a .tmp file, which must not count.
	os.WriteFile(filepath.Join(c.dir(root), "b.tmp"), nil, 0o755)
	if c.built(root) {
		t.Fatal("built() with b missing")
	}
	os.WriteFile(filepath.Join(c.dir(root), "b"), nil, 0o755)
	if !c.built(root) {
		t.Fatal("built() false with every file present")
	}
}
