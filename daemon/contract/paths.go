package contract

import "fmt"

// Where the plugin deploys the daemon and where the DaemonSet mounts its
// inputs. The paths are the container's; on a Windows HostProcess container
// without the bind filter they appear under %CONTAINER_SANDBOX_MOUNT_POINT%
// (see daemon/hostprocess).
const (
	// DefaultNamespace is where `warm` deploys the DaemonSet unless -n.
	DefaultNamespace = "winimage-system"
	// ConfigMapName is the ConfigMap holding the image list.
	ConfigMapName = "winimage-images"
	// FieldManager owns the fields warm applies, so a second warm with a
	// new list updates them and a user's own fields stay theirs; the audit
	// reads when the list last changed from its managed-fields entry.
	FieldManager = "kubectl-winimage"
	// ImageListKey is the ConfigMap key holding the ImageList.
	ImageListKey = "images.yaml"
	// ImageListDir is where the ConfigMap is mounted: a folder of its own,
	// so the pull-secret volumes sit beside it rather than inside the
	// read-only ConfigMap volume (whose contents kubelet replaces).
	ImageListDir = "/etc/winimage/list"
	// ImageListPath is the file the daemon reads.
	ImageListPath = ImageListDir + "/" + ImageListKey
	// PullSecretsDir holds one folder per mounted pull secret.
	PullSecretsDir = "/etc/winimage/pull-secrets"
)

// SlotLeasePrefix names the pull-slot Leases of --max-concurrent-nodes:
// SlotLease(prefix, i) for i below the limit. warm grants the daemon those
// names and no others.
const SlotLeasePrefix = "winimage-pull-slot"

// SlotLease is the name of pull slot i.
func SlotLease(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }
