// Package wine lets the daemon's Windows tests run under Wine, which
// `make test` uses to execute the daemon's windows/amd64 code on Linux
// (see Runner). Tests call Skip for what Wine cannot do, by name, and
// TempDir instead of t.TempDir.
package wine

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// ExpectEnv is set to 1 in the tests Runner starts under Wine.
const ExpectEnv = "WINIMAGE_UNDER_WINE"

// Skip skips the test under Wine, saying which Wine gap stops it. On real
// Windows and on Linux the test runs.
func Skip(t testing.TB, gap string) {
	t.Helper()
	if Running() {
		t.Skipf("skipped under Wine: %s", gap)
	}
}

// TempDir is t.TempDir, except under Wine. Go 1.26's os.RemoveAll deletes
// with FileDispositionInformationEx and POSIX semantics
// (go1.26 src/internal/syscall/windows/at_windows.go Deleteat); Wine 8.0
// answers STATUS_INVALID_DEVICE_REQUEST, which Go does not take as "fall
// back", so t.TempDir's cleanup fails every test that wrote a file. Under
// Wine the folder is removed file by file with DeleteFileW (os.Remove),
// which Wine has.
func TempDir(t testing.TB) string {
	t.Helper()
	if !Running() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "winimage-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// removeTree removes dir with os.Remove alone, deepest paths first.
func removeTree(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}
