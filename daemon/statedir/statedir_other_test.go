//go:build !windows

package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareRefusesAFolderOthersMayWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "winimage")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(dir); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("a world-writable folder: %v", err)
	}
}

func TestPrepareRefusesALinkToAFolderOthersMayWrite(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "winimage")
	if err := os.Symlink(open, link); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(link); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("a link to a world-writable folder: %v", err)
	}
}
