//go:build linux

package e2e

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// CRI fetches at most max_concurrent_downloads (3) layers of a pull at
// once, on every line (v1.7.35 pkg/cri/server/image_pull.go; 2.x's
// Transfer service the same by its own setting). The daemon, inside its
// pod's 256 Mi job-object memory limit, must not fetch more: before, the
// 1.7 path fetched every layer of an image at once.
func TestDaemonFetchesNoMoreLayersAtOnceThanCRI(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	layers := make([]resource.Quantity, 8)
	for i := range layers {
		layers[i] = resource.MustParse("256Ki")
	}
	if _, err := imagefixtures.Push(context.Background(), r.Registry.Host(), imagefixtures.Spec{Images: []imagefixtures.Image{
		{Ref: "apps/many:1", Layers: layers, Linux: true},
	}}); err != nil {
		t.Fatal(err)
	}
	ref := r.Registry.Host() + "/apps/many:1"
	// Each layer takes about a second, so the fetches overlap.
	r.Registry.Throttle(256 << 10)
	defer r.Registry.Throttle(0)
	r.Registry.ResetCounts()
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref}})
	if p := d.waitDone(2 * time.Minute); stateOf(p.Images, ref).State != contract.Ready {
		t.Fatalf("warm: %+v", p)
	}
	if n := r.Registry.MaxBlobsInFlight(); n > 3 || n < 2 {
		t.Errorf("containerd %s: %d layers fetched at once; want at most CRI's 3 (and more than 1, or the check says nothing)", r.Containerd.Version, n)
	}
}
