// Package hostprocess knows where a Windows HostProcess container sees what
// the pod mounts. On hosts without the bind filter (Windows Server 2019)
// hcsshim puts every volume only under %CONTAINER_SANDBOX_MOUNT_POINT%; on
// Server 2022 and later the volume is there too. Mapping every mounted path
// through InSandbox is right on both.
package hostprocess

import (
	"os"
	"path/filepath"
	"strings"
)

// SandboxEnv names the variable hcsshim sets in HostProcess containers.
const SandboxEnv = "CONTAINER_SANDBOX_MOUNT_POINT"

// InSandbox maps a volume's mountPath to where a Windows HostProcess
// container sees it: under $CONTAINER_SANDBOX_MOUNT_POINT. Elsewhere the
// path is unchanged.
func InSandbox(path string) string {
	root := os.Getenv(SandboxEnv)
	if root == "" || !strings.HasPrefix(path, "/") {
		return path
	}
	return filepath.Join(root, filepath.FromSlash(path))
}
