//go:build linux

package rigcache

import (
	"testing"
	"time"
)

func TestLockDirSerializesBuilders(t *testing.T) {
	dir := t.TempDir()
	release, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan func())
	go func() {
		second, err := LockDir(dir)
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
	t.Setenv(Env, "/tmp/some-cache")
	if got, _ := Dir(); got != "/tmp/some-cache" {
		t.Fatalf("with %s: %s", Env, got)
	}
	t.Setenv(Env, "")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if got, _ := Dir(); got != "/tmp/xdg/kubectl-winimage/rig" {
		t.Fatalf("with XDG_CACHE_HOME: %s", got)
	}
}

// The Wine prefix and the rig's components share the cache's root, each
// with its own override.
func TestUnderGivesEachToolItsFolderAndOverride(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	t.Setenv("WINIMAGE_TEST_OVERRIDE", "")
	if got, _ := Under("wine", "WINIMAGE_TEST_OVERRIDE"); got != "/tmp/xdg/kubectl-winimage/wine" {
		t.Fatalf("Under(wine) = %s", got)
	}
	t.Setenv("WINIMAGE_TEST_OVERRIDE", "/srv/prefix")
	if got, _ := Under("wine", "WINIMAGE_TEST_OVERRIDE"); got != "/srv/prefix" {
		t.Fatalf("with the override: %s", got)
	}
}
