package noderuntime

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
	creds := &transferCredentials{c: c}
	opts := []registry.Opt{registry.WithCredentials(creds)}
	if len(c.CRI.HostsDirs) > 0 {
		// The service takes one root, as CRI hands it.
		opts = append(opts, registry.WithHostDir(c.CRI.HostsDirs[0]))
	}
	reg, err := registry.NewOCIRegistry(ctx, named.String(), opts...)
	if err != nil {
		return nil, fmt.Errorf("registry for %s: %w", named, err)
	}
	if err := c.Client.Transfer(ctx, reg, store, transfer.WithProgress(func(transfer.Progress) {})); err != nil {
		return nil, creds.failed(err)
	}
	rec, err := c.Client.ImageService().Get(ctx, named.String())
	if err != nil {
		return nil, err
	}
	// Read back with the node's matcher, not this process's default.
	return containerd.NewImageWithPlatform(c.Client, rec, c.Matcher), nil
}

// transferCredentials answers the Transfer service's credential requests
// (streamed back to this client) from the daemon's keychain. It never
// answers with an error: the client side of the stream drops a request
// whose credentials failed without replying (containerd v2.4.2
// core/transfer/registry/registry.go MarshalAny's auth stream, "failed to
// get credentials" then continue; v2.1.9 the same), and the service waits
// on that reply for ever. It answers anonymously instead, so the registry
// refuses the pull at once, and keeps the error to say why.
type transferCredentials struct {
	c    *Containerd
	mu   sync.Mutex
	errs []error
}

func (t *transferCredentials) GetCredentials(_ context.Context, _, host string) (registry.Credentials, error) {
	user, secret, err := t.c.credentials(host)
	if err != nil {
		t.mu.Lock()
		t.errs = append(t.errs, fmt.Errorf("credentials for %s: %w", host, err))
		t.mu.Unlock()
		return registry.Credentials{Host: host}, nil
	}
	return registry.Credentials{Host: host, Username: user, Secret: secret}, nil
}

// failed joins the credential errors seen into a pull's error.
func (t *transferCredentials) failed(err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil || len(t.errs) == 0 {
		return err
	}
	return errors.Join(append([]error{err}, t.errs...)...)
}
