package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	containerd "github.com/containerd/containerd/v2/client"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// runtimeFlags are the containerd settings every command shares.
type runtimeFlags struct {
	address, namespace, snapshotter, root string
}

func (f *runtimeFlags) add(fs *flag.FlagSet) {
	d := noderuntime.DefaultsFor(runtime.GOOS)
	fs.StringVar(&f.address, "containerd-address", d.Address, "containerd gRPC address")
	fs.StringVar(&f.namespace, "containerd-namespace", noderuntime.Namespace, "containerd namespace (kubelet's CRI uses k8s.io)")
	fs.StringVar(&f.snapshotter, "snapshotter", d.Snapshotter, "snapshotter to unpack into (the one kubelet's CRI uses)")
	fs.StringVar(&f.root, "containerd-root", d.Root, "containerd root folder; its volume is checked before each pull")
}

func (f *runtimeFlags) connect(ctx context.Context) (*containerd.Client, error) {
	return noderuntime.Connect(ctx, f.address, f.namespace)
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
