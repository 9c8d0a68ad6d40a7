//go:build linux

package rig

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockDirSerializesBuilders(t *testing.T) {
	dir := t.TempDir()
	release, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan func())
	go func() {
		second, err := lockDir(dir)
		if err != nil {
			t.Error(err)
			close(acquired)
			return
		}
		acquired <- second
	}()
	select {
	case <-acquired:
		t.Fatal("a second builder took the lock while the first held it")
	case <-time.After(300 * time.Millisecond):
	}
	release()
	select {
	case second := <-acquired:
		second()
	case <-time.After(5 * time.Second):
		t.Fatal("the second builder never got the lock after release")
	}
}

func TestCacheDirHonoursOverrideAndXDG(t *testing.T) {
	t.Setenv(CacheEnv, "/tmp/some-cache")
	if got, _ := CacheDir(); got != "/tmp/some-cache" {
		t.Fatalf("with %s: %s", CacheEnv, got)
	}
	t.Setenv(CacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if got, _ := CacheDir(); got != "/tmp/xdg/kubectl-winimage/rig" {
		t.Fatalf("with XDG_CACHE_HOME: %s", got)
	}
}

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
