package hostprocess

import (
	"path/filepath"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestInSandboxMapsMountPathsForHostProcessContainers(t *testing.T) {
	t.Setenv("CONTAINER_SANDBOX_MOUNT_POINT", "")
	if got := InSandbox("/etc/winimage/images.yaml"); got != "/etc/winimage/images.yaml" {
		t.Fatalf("outside HostProcess: %s", got)
	}
	root := wine.TempDir(t)
	t.Setenv("CONTAINER_SANDBOX_MOUNT_POINT", root)
	if got := InSandbox("/etc/winimage/images.yaml"); got != filepath.Join(root, "etc", "winimage", "images.yaml") {
		t.Fatalf("in HostProcess: %s", got)
	}
	if got := InSandbox(""); got != "" {
		t.Fatalf("empty path: %q", got)
	}
}
