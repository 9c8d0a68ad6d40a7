//go:build !windows

package wine

// Running is false off Windows.
func Running() bool { return false }
