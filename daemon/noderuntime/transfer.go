package noderuntime

import (
	"context"
	"fmt"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/transfer"
	transferimage "github.com/containerd/containerd/v2/core/transfer/image"
	"github.com/containerd/containerd/v2/core/transfer/registry"
	"github.com/distribution/reference"
)

// pullWithTransfer pulls through containerd's Transfer service, as CRI does
// on containerd 2.x unless a local-pull setting is present (containerd
// v2.4.2 internal/cri/server/images/image_pull.go
// pullImageWithTransferService: an image store with the platform, unpack
// to the snapshotter and the labels, from an OCI registry with the node's
// hosts directory and credentials). The service's unpack duplication
// suppressor is shared by every transfer request on the node, kubelet's
// included (core/transfer/local/pull.go), so when kubelet pulls the same
// image meanwhile, each layer is unpacked once; a client pull in another
// process shares nothing.
func (c *Containerd) pullWithTransfer(ctx context.Context, named reference.Named, labels map[string]string) (containerd.Image, error) {
	store := transferimage.NewStore(named.String(),
		transferimage.WithPlatforms(c.Platform),
		transferimage.WithUnpack(c.Platform, c.Snapshotter),
		transferimage.WithImageLabels(labels))
	opts := []registry.Opt{registry.WithCredentials(transferCredentials{c})}
	if len(c.CRI.HostsDirs) > 0 {
		// The service takes one root, as CRI hands it.
		opts = append(opts, registry.WithHostDir(c.CRI.HostsDirs[0]))
	}
	reg, err := registry.NewOCIRegistry(ctx, named.String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("registry for %s: %w", named, err)
	}
	if err := c.Client.Transfer(ctx, reg, store, transfer.WithProgress(func(transfer.Progress) {})); err != nil {
		return nil, err
	}
	rec, err := c.Client.ImageService().Get(ctx, named.String())
	if err != nil {
		return nil, err
	}
	// Read back with the node's matcher, not this process's default.
	return containerd.NewImageWithPlatform(c.Client, rec, c.Matcher), nil
}

// transferCredentials answers the Transfer service's credential requests
// (streamed back to this client) from the daemon's keychain.
type transferCredentials struct{ c *Containerd }

func (t transferCredentials) GetCredentials(_ context.Context, _, host string) (registry.Credentials, error) {
	user, secret, err := t.c.credentials(host)
	if err != nil {
		return registry.Credentials{}, err
	}
	return registry.Credentials{Host: host, Username: user, Secret: secret}, nil
}
