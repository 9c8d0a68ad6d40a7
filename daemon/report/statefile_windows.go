package report

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// openState opens the state file for reading, sharing delete access:
// os.Open shares only read and write (go1.26 src/syscall/syscall_windows.go
// Open), and no rename can replace a file held without FILE_SHARE_DELETE.
// With it, a rename with POSIX semantics can; MoveFileEx's classic one
// (what os.Rename calls) still fails while the handle is open, as Wine 8.0
// does too, so writeAtomic also waits the read out (heldOpen).
func openState(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// heldOpen reports whether a rename failed because someone holds the target
// open: access denied (the target is open, or pending delete) or a sharing
// violation.
func heldOpen(err error) bool {
	return errors.Is(err, windows.ERROR_ACCESS_DENIED) || errors.Is(err, windows.ERROR_SHARING_VIOLATION)
}
