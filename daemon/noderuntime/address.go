// Package noderuntime is the daemon's boundary to the node's container runtime
// (containerd): where it listens, which namespace and snapshotter kubelet's
// CRI uses, and a client connected to it.
package noderuntime

import (
	"context"
	"fmt"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
)

// Namespace is the containerd namespace the CRI plugin keeps kubelet's images in.
const Namespace = "k8s.io"

// Defaults are the containerd settings of a stock node of the given OS.
type Defaults struct {
	Address     string
	Snapshotter string
	// Root is containerd's root folder, whose volume the disk guard watches.
	Root string
}

// DefaultsFor returns the containerd address and snapshotter of a stock node
// running goos: the named pipe and the windows snapshotter on Windows, the
// socket and overlayfs elsewhere.
func DefaultsFor(goos string) Defaults {
	if goos == "windows" {
		return Defaults{Address: `\\.\pipe\containerd-containerd`, Snapshotter: "windows", Root: `C:\ProgramData\containerd\root`}
	}
	return Defaults{Address: "/run/containerd/containerd.sock", Snapshotter: "overlayfs", Root: "/var/lib/containerd"}
}

// Connect dials containerd at address with namespace as the default and
// checks it answers, so a wrong address fails here with a clear error
// rather than on the first pull.
func Connect(ctx context.Context, address, namespace string) (*containerd.Client, error) {
	client, err := containerd.New(address, containerd.WithDefaultNamespace(namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w", address, err)
	}
	return client, nil
}
