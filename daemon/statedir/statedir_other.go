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
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not the daemon's %d", st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("writable by others (mode %v)", fi.Mode().Perm())
	}
	return nil
}

// checkLink refuses a link someone other than the daemon's user made.
func checkLink(fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("a link made by uid %d, not the daemon's %d", st.Uid, os.Geteuid())
	}
	return nil
}
