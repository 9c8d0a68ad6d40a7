//go:build linux

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// When repo:tag moves to a new digest, the daemon warms the new image and
// lets go of the old one: the repo@old and image-id records it pinned and
// added are removed (no container uses them), so kubelet's GC can reclaim a
// multi-GB image no pod names any more.
func TestDaemonLetsGoOfTheImageAMovedTagLeft(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ref := applied.Ref("apps/b1:1")
	node := applied.Nodes["workers"][0]
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	p := d.waitDone(2 * time.Minute)
	if !p.AllReady() {
		t.Fatalf("warm: %+v", p)
	}
	old := p.Images[0].Digest
	d.stop()

	moveTag(t, applied.Ref("apps/b2:1"), ref)
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	p = d2.waitDone(2 * time.Minute)
	if !p.AllReady() || p.Images[0].Digest == old {
		t.Fatalf("after the tag moved: %+v (old %s)", p, old)
	}
	left, err := nodeClient(t, r.Containerd.Address).ImageService().List(context.Background(), "target.digest=="+old)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range left {
		if rec.Labels[noderuntime.LabelPinnedBy] == "true" || rec.Labels[noderuntime.LabelPinned] == "pinned" {
			t.Errorf("%s still pinned after its tag moved on", rec.Name)
		}
	}
	if len(left) != 0 {
		t.Errorf("records of the old image the daemon added are left: %d", len(left))
	}
}

// moveTag points the tag to at what from points at, in the registry.
func moveTag(t *testing.T, from, to string) {
	t.Helper()
	src, err := name.ParseReference(from)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.NewTag(to)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(dst, idx); err != nil {
		t.Fatal(err)
	}
}
