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
