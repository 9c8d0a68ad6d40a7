package statedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestPrepareMakesTheFolderAndTakesItsOwnAgain(t *testing.T) {
	dir := filepath.Join(wine.TempDir(t), "winimage")
	if err := Prepare(dir); err != nil {
		t.Fatalf("a missing folder: %v", err)
	}
	if err := Prepare(dir); err != nil {
		t.Fatalf("the folder it made: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{}"), 0o600); err != nil {
		t.Fatalf("writing in it: %v", err)
	}
}

func TestPrepareRefusesAFileInItsPlace(t *testing.T) {
	file := filepath.Join(wine.TempDir(t), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(file); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("a file in its place: %v", err)
	}
}

// A link is judged by where it leads: to a folder of the daemon's own it
// is taken (a HostProcess volume linked under the sandbox).
func TestPrepareJudgesALinkByItsFolder(t *testing.T) {
	wine.Skip(t, "Wine 8.0's symlinks are not followed when opened")
	base := wine.TempDir(t)
	target := filepath.Join(base, "volume")
	if err := Prepare(target); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if err := Prepare(link); err != nil {
		t.Errorf("a link to the daemon's own folder: %v", err)
	}
}
