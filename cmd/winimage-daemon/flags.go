package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// addContainerd binds the containerd settings every command shares.
func addContainerd(fs *flag.FlagSet, c *agent.Containerd) {
	*c = agent.DefaultContainerd()
	fs.StringVar(&c.Address, "containerd-address", c.Address, "containerd gRPC address")
	fs.StringVar(&c.Namespace, "containerd-namespace", c.Namespace, "containerd namespace (kubelet's CRI uses k8s.io)")
	fs.StringVar(&c.Snapshotter, "snapshotter", c.Snapshotter, "snapshotter to unpack into (the one kubelet's CRI uses)")
	fs.StringVar(&c.Root, "containerd-root", c.Root, "containerd root folder, whose volume the disk guard checks before each pull (default: the root in --containerd-config, else the stock one)")
	fs.StringVar(&c.ConfigFile, "containerd-config", c.ConfigFile, "containerd's configuration: its CRI image settings (registry hosts directory or legacy mirrors and auth, download limit, the settings that decide Transfer or client pull) and its root are followed")
}

// addIdentity binds who this daemon is, from the downward API by default.
func addIdentity(fs *flag.FlagSet, id *agent.Identity) {
	fs.StringVar(&id.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig (default: $KUBECONFIG, else the in-cluster service account)")
	fs.StringVar(&id.Node, "node-name", os.Getenv("NODE_NAME"), "this node (downward API NODE_NAME)")
	fs.StringVar(&id.Pod, "pod-name", os.Getenv("POD_NAME"), "this pod (downward API POD_NAME)")
	fs.StringVar(&id.PodNamespace, "pod-namespace", envDefault("POD_NAMESPACE", contract.DefaultNamespace), "this pod's namespace (downward API POD_NAMESPACE)")
}

// envDefault is the value of an environment variable (the downward API's)
// or def.
func envDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}
