// Package statedir makes the folder the daemon writes its state file and
// heartbeat in, on the host, where it outlives the pod. The daemon runs as
// SYSTEM on Windows, and C:\ProgramData lets any local user create a
// folder in it: one made ahead of the daemon, or a junction in its place,
// would let that user feed the readiness probe or steer the daemon's
// writes elsewhere. So the folder is made for SYSTEM and Administrators
// alone, and one that anyone else owns or may write to is refused.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Prepare makes dir if it is missing, for the daemon's account and the
// administrators alone, and refuses one that others own or may write to.
// A link in its place is judged by the folder it leads to (kubelet and
// hcsshim link a HostProcess pod's volumes under its sandbox on Windows
// Server 2022 and later), and on Linux by the link's own owner too.
func Prepare(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return create(dir)
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if err := checkLink(fi); err != nil {
			return fmt.Errorf("state folder %s: %w; remove it and restart the daemon", dir, err)
		}
		if fi, err = os.Stat(dir); err != nil {
			return err
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("state folder %s is not a folder: remove it and restart the daemon", dir)
	}
	if err := checkOwnership(dir); err != nil {
		return fmt.Errorf("state folder %s: %w; remove it and restart the daemon", dir, err)
	}
	return nil
}
