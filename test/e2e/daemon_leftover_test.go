//go:build linux

package e2e

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// A half-written layer left by an attempt that was cut off (a killed pod, a
// registry that dropped the connection) sits in the content store without
// moving. On the client-pull path (containerd 1.7, or discarded layers) the
// daemon first waits out another pull of the image; this leftover looks
// like one until it has been still for a moment. That wait is not the
// daemon's pull stalling: with a progress timeout shorter than the wait,
// the one attempt allowed must still succeed.
func TestDaemonLeftoverIngestIsNotAStalledPull(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	ref := applied.Ref("apps/b1:1")
	layers := imagefixtures.LinuxLayers(t, ref)
	top := layers[len(layers)-1]
	hash, err := v1.NewHash(top.Digest)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := imagefixtures.LinuxImage(t, ref).LayerByDigest(hash)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(blob)
	if err != nil {
		t.Fatal(err)
	}
	// As containerd's fetcher names it (core/remotes MakeRefKey), so the
	// daemon's pull would resume it.
	client := nodeClient(t, r.Containerd.Address)
	w, err := content.OpenWriter(ctx, client.ContentStore(), content.WithRef("layer-"+top.Digest),
		content.WithDescriptor(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.Digest(top.Digest), Size: top.Size}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	w.Close() // left for a resume, not committed

	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref},
		extra: []string{"--discard-unpacked-layers", "--max-attempts", "1", "--pull-progress-timeout", "2s"}})
	p := d.waitDone(time.Minute)
	// --max-attempts 1: Ready means the first attempt succeeded.
	if s := stateOf(p.Images, ref); s.State != contract.Ready {
		t.Errorf("%s: %s, %q; want Ready at the first attempt (a reason of \"no bytes\" is the wait taken for a stall)", ref, s.State, s.Reason)
	}
}
