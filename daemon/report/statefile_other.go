//go:build !windows

package report

import "os"

// openState opens the state file for reading. Elsewhere than on Windows a
// reader never stands in the way of a rename.
func openState(path string) (*os.File, error) { return os.Open(path) }

// heldOpen is false: only Windows refuses a rename over an open file.
func heldOpen(error) bool { return false }
