//go:build linux

package e2e

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The daemon writes exactly the image records CRI's PullImage writes (the
// image id, repo:tag and repo@digest names, and CRI's labels), so kubelet
// and CRI see no difference; beyond them only its own labels. Labels others
// set on an existing record stay.
func TestDaemonWritesTheRecordsCRIWrites(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	ref := applied.Ref("apps/a2:1")
	node := applied.Nodes["workers"][0]

	// Another tool's label on a record the daemon will write.
	other, err := r.StartContainerd(ctx, "cri-pull")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CRIPull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	criRecords := recordsOf(t, other.Address, ref)

	presetLabel(t, r.Containerd.Address, ref, criRecords[ref].Target, "example.com/keep", "yes")
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	if p := d.waitDone(2 * time.Minute); !p.AllReady() {
		t.Fatalf("warm: %+v", p)
	}
	ours := recordsOf(t, r.Containerd.Address, ref)

	if got, want := slices.Sorted(maps.Keys(ours)), slices.Sorted(maps.Keys(criRecords)); !slices.Equal(got, want) {
		t.Fatalf("record names:\n daemon %v\n    CRI %v", got, want)
	}
	for name, cri := range criRecords {
		mine := ours[name]
		if mine.Target.Digest != cri.Target.Digest {
			t.Errorf("%s: target %s, CRI %s", name, mine.Target.Digest, cri.Target.Digest)
		}
		for k, v := range cri.Labels {
			if mine.Labels[k] != v {
				t.Errorf("%s: label %s=%q, CRI writes %q", name, k, mine.Labels[k], v)
			}
		}
		for k := range mine.Labels {
			if _, cris := cri.Labels[k]; !cris && !strings.HasPrefix(k, "winimage.io/") && k != "io.cri-containerd.pinned" && k != "example.com/keep" {
				t.Errorf("%s: label %s that CRI does not write", name, k)
			}
		}
	}
	if ours[ref].Labels["example.com/keep"] != "yes" {
		t.Errorf("another tool's label was dropped: %v", ours[ref].Labels)
	}
}

// recordsOf returns the image records that point where ref does, by name.
func recordsOf(t *testing.T, address, ref string) map[string]images.Image {
	t.Helper()
	_, all := recordsLike(t, nodeClient(t, address), ref)
	out := map[string]images.Image{}
	for _, r := range all {
		out[r.Name] = r
	}
	return out
}

// presetLabel creates the record ref (as another tool would have) with one
// label of its own.
func presetLabel(t *testing.T, address, ref string, target ocispec.Descriptor, key, value string) {
	t.Helper()
	rec := images.Image{Name: ref, Target: target, Labels: map[string]string{key: value}}
	if _, err := nodeClient(t, address).ImageService().Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}
