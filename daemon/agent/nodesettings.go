package agent

import (
	"runtime"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/containerdversion"
	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// readNodeConfig reads containerd's configuration as the node's containerd
// line reads it, with --discard-unpacked-layers forcing that setting on.
func readNodeConfig(c Containerd, containerdVersion string) (nodeconfig.Config, error) {
	major := 0
	if v, err := containerdversion.Parse(containerdVersion); err == nil {
		major = v.Major
	}
	nodeCfg, err := nodeconfig.Read(c.ConfigFile, major)
	if c.DiscardUnpackedLayers {
		nodeCfg.DiscardUnpackedLayers = true
	}
	return nodeCfg, err
}

// pullMethod is how the node's CRI pulls, which the daemon follows:
// through the Transfer service on containerd 2.x unless a setting makes
// CRI fall back to a client pull (nodeconfig.Config.TransferRefusal); by
// the client on 1.7, which has no such service. It also says why.
func pullMethod(containerdVersion string, nodeCfg nodeconfig.Config, goos string) (transfer bool, method string) {
	v, err := containerdversion.Parse(containerdVersion)
	if err != nil || v.Major < 2 {
		return false, "client (containerd " + containerdVersion + " has no Transfer service)"
	}
	if setting := nodeCfg.TransferRefusal(goos); setting != "" {
		return false, "client (CRI falls back from the Transfer service for " + setting + ")"
	}
	return true, "transfer service"
}

// containerdRoot is the folder whose volume the disk guard watches: the
// --containerd-root flag, else the root containerd's own config.toml sets,
// else the stock one.
func containerdRoot(flag, fromConfig string) string {
	switch {
	case flag != "":
		return flag
	case fromConfig != "":
		return fromConfig
	}
	return noderuntime.DefaultsFor(runtime.GOOS).Root
}

// diskWarning says so when the disk guard is off: warming may then fill
// the volume with pinned images kubelet cannot reclaim.
func diskWarning(threshold float64) string {
	if threshold >= 1 {
		return "the disk guard is off (--disk-threshold 1): warming may fill containerd's volume past kubelet's eviction line with images kubelet cannot reclaim"
	}
	return ""
}
