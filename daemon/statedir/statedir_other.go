//go:build !windows

package statedir

import (
	"fmt"
	"os"
	"syscall"
)

func create(dir string) error { return os.MkdirAll(dir, 0o700) }

// checkOwnership refuses a folder owned by another user than the daemon's,
// or that group or others may write to.
func checkOwnership(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if uid, ok := otherOwner(fi); ok {
		return fmt.Errorf("owned by uid %d, not the daemon's %d", uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by others (mode %v)", fi.Mode().Perm())
	}
	return nil
}

// checkLink refuses a link someone other than the daemon's user made.
func checkLink(fi os.FileInfo) error {
	if uid, ok := otherOwner(fi); ok {
		return fmt.Errorf("a link made by uid %d, not the daemon's %d", uid, os.Geteuid())
	}
	return nil
}

// otherOwner is fi's owner when that is not the daemon's user.
func otherOwner(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return 0, false
	}
	return st.Uid, true
}
