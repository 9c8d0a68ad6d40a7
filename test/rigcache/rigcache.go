//go:build linux

// Package rigcache is the folder, outside any clone, where the rig and the
// test tools keep what they build or download once (components, the AWS
// service specs, IAM policies, the Wine prefix), and the lock that lets
// processes fill it in turn. Apart from the rig, so a test that needs one cached file does
// not link the rig's Kubernetes and containerd clients.
package rigcache

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Env overrides where built components are kept.
const Env = "WINIMAGE_RIG_CACHE"

// Dir is where the built components live: Under("rig", Env).
func Dir() (string, error) { return Under("rig", Env) }

// Under is the folder name of the cache, outside any clone so that a fresh
// checkout reuses it: $override when set, else
// $XDG_CACHE_HOME/kubectl-winimage/name, else
// ~/.cache/kubectl-winimage/name.
func Under(name, override string) (string, error) {
	if dir := os.Getenv(override); dir != "" {
		return filepath.Abs(dir)
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no cache folder: set %s or HOME: %w", override, err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "kubectl-winimage", name), nil
}

// LockDir takes Lock on dir/.lock, so two processes building into the same
// cache folder take turns instead of interleaving writes.
func LockDir(dir string) (func(), error) { return Lock(filepath.Join(dir, ".lock")) }

// Lock takes an exclusive flock on the file path, making it and its folder
// when missing. The returned function releases it.
func Lock(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// FillOnce fills the cache folder dir once across processes: unless marker
// (a path in dir) exists, it runs fill under dir's lock, checking again
// once it holds it. fill must create marker last, so a fill that failed
// halfway is run again next time.
func FillOnce(dir, marker string, fill func() error) error {
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	unlock, err := LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	return fill()
}
