//go:build linux

package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// An image whose layer blobs are gone from the content store (a node with
// discard_unpacked_layers, or content GC) but whose manifest, config and
// snapshots are there is present to CRI, so kubelet starts pods from it
// without pulling. The daemon must count it Ready the same way, or it
// retries forever and a startup taint is never removed.
func TestDaemonTakesAnImageWithoutLayerBlobsForPresentAsCRIDoes(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ref := applied.Ref("apps/b2:1")
	node := applied.Nodes["workers"][0]
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	if p := d.waitDone(2 * time.Minute); !p.AllReady() {
		t.Fatalf("first warm: %+v", p)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}

	deleted := deleteLayerBlobs(t, r.Containerd.Address, ref)
	if deleted == 0 {
		t.Fatal("no layer blob deleted")
	}
	if img := criImage(t, r.Containerd, ref); img == nil {
		t.Fatal("CRI no longer lists the image: the test does not model what it means to")
	}

	r.Registry.ResetCounts()
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	p := d2.waitDone(time.Minute)
	if !p.AllReady() || p.Images[0].Attempts > 1 {
		t.Fatalf("after the layer blobs went: %+v", p)
	}
	if _, blobs, _ := r.Registry.Counts(); blobs != 0 {
		t.Errorf("the daemon fetched %d blobs for an image CRI has", blobs)
	}
}

// deleteLayerBlobs removes the layer blobs of ref's linux/amd64 entry from
// the content store, as discard_unpacked_layers does after unpacking.
func deleteLayerBlobs(t *testing.T, address, ref string) int {
	t.Helper()
	client := nodeClient(t, address)
	_, m := linuxManifest(t, client, ref)
	for _, l := range m.Layers {
		if err := client.ContentStore().Delete(context.Background(), l.Digest); err != nil {
			t.Fatalf("delete %s: %v", l.Digest, err)
		}
	}
	return len(m.Layers)
}

// linuxManifest is the config descriptor and manifest of ref's linux/amd64
// entry, from the node's content store.
func linuxManifest(t *testing.T, client *containerd.Client, ref string) (ocispec.Descriptor, ocispec.Manifest) {
	t.Helper()
	ctx := context.Background()
	rec, err := client.ImageService().Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	linux := platforms.Only(platforms.MustParse("linux/amd64"))
	m, err := images.Manifest(ctx, client.ContentStore(), rec.Target, linux)
	if err != nil {
		t.Fatal(err)
	}
	return m.Config, m
}

// With --discard-unpacked-layers the daemon pulls as CRI does on such a
// node: the manifest holds no GC reference to its layers, so they go once
// unpacked, instead of doubling a Windows image's disk use.
func TestDaemonPullsAsCRIDoesWhenTheNodeDiscardsUnpackedLayers(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	node := applied.Nodes["workers"][0]
	kept, discarded := applied.Ref("apps/b1:1"), applied.Ref("apps/b3:1")
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{kept}})
	if p := d.waitDone(2 * time.Minute); !p.AllReady() {
		t.Fatalf("warm: %+v", p)
	}
	d.stop()
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{discarded}, extra: []string{"--discard-unpacked-layers"}})
	if p := d2.waitDone(2 * time.Minute); !p.AllReady() {
		t.Fatalf("warm with --discard-unpacked-layers: %+v", p)
	}
	if n := layerGCRefs(t, r.Containerd.Address, kept); n == 0 {
		t.Fatalf("the default pull keeps no layer reference: the check cannot tell the two apart")
	}
	if n := layerGCRefs(t, r.Containerd.Address, discarded); n != 0 {
		t.Errorf("with --discard-unpacked-layers the manifest still holds %d layer references", n)
	}
	// What the check stands for: CRI itself, on a containerd configured
	// with discard_unpacked_layers, leaves no such reference either.
	eks, err := r.StartContainerdWith(context.Background(), "discarding", rig.ContainerdOptions{DiscardUnpackedLayers: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eks.CRIPull(context.Background(), discarded); err != nil {
		t.Fatal(err)
	}
	if n := layerGCRefs(t, eks.Address, discarded); n != 0 {
		t.Errorf("CRI with discard_unpacked_layers keeps %d layer references: the daemon's flag does not match it", n)
	}
}

// layerGCRefs counts the GC references from ref's linux/amd64 manifest to
// its layers.
func layerGCRefs(t *testing.T, address, ref string) int {
	t.Helper()
	client := nodeClient(t, address)
	ctx := context.Background()
	desc, m := linuxManifest(t, client, ref)
	layers := map[string]bool{}
	for _, l := range m.Layers {
		layers[l.Digest.String()] = true
	}
	// Find the manifest blob: the one whose gc refs name the config.
	var n int
	err := client.ContentStore().Walk(ctx, func(info content.Info) error {
		refsConfig := false
		for k, v := range info.Labels {
			if strings.HasPrefix(k, "containerd.io/gc.ref.content.") && v == desc.Digest.String() {
				refsConfig = true
			}
		}
		if !refsConfig {
			return nil
		}
		for k, v := range info.Labels {
			if strings.HasPrefix(k, "containerd.io/gc.ref.content.") && layers[v] {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A node behind a registry mirror (or pull-through cache, or a private CA)
// is configured in containerd's hosts directory. kubelet's pulls follow it,
// so the daemon's must: here the image's registry resolves nowhere and only
// the mirror serves it.
func TestDaemonPullsThroughTheNodesRegistryMirror(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	const upstream = "registry.mirror-only.invalid"
	node, err := r.StartContainerdWith(ctx, "mirrored", rig.ContainerdOptions{Mirror: upstream})
	if err != nil {
		t.Fatal(err)
	}
	ref := upstream + "/apps/b3:1"
	if _, err := node.CRIPull(ctx, ref); err != nil {
		t.Fatalf("CRI cannot pull through the mirror either: %v", err)
	}
	if err := node.RemoveImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	r.Registry.ResetCounts()
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: node, images: []string{ref}})
	p := d.waitDone(time.Minute)
	if !p.AllReady() {
		t.Fatalf("through the mirror: %+v", p)
	}
	if _, blobs, _ := r.Registry.Counts(); blobs == 0 {
		t.Error("the mirror (the rig registry) served no blob")
	}
	if img := criImage(t, node, ref); img == nil || !img.Pinned {
		t.Errorf("CRI after the warm: %+v", img)
	}
}

// A node whose registry (or pull-through cache) sits behind a private CA
// trusts it in containerd's hosts directory only (hosts.toml ca), not in
// the system store. kubelet's pulls verify the registry with that CA, so
// the daemon's must too.
func TestDaemonTrustsTheNodesPrivateRegistryCA(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	host, _, err := r.PrivateCARegistry()
	if errors.Is(err, rig.ErrNoNonLoopbackAddress) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	node, err := r.StartContainerdWith(ctx, "private-ca", rig.ContainerdOptions{PrivateCA: true})
	if err != nil {
		t.Fatal(err)
	}
	// The CA is private indeed: a client with the system roots refuses the
	// registry.
	if resp, err := http.Get("https://" + host + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatal("the system trust store accepts the private CA's registry; the test proves nothing")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error from the system roots, got %v", err)
	}
	ref := host + "/apps/b3:1"
	if _, err := node.CRIPull(ctx, ref); err != nil {
		t.Fatalf("CRI cannot pull behind the private CA either: %v", err)
	}
	if err := node.RemoveImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: node, images: []string{ref}})
	if p := d.waitDone(time.Minute); !p.AllReady() {
		t.Fatalf("behind the private CA: %+v", p)
	}
	if img := criImage(t, node, ref); img == nil || !img.Pinned {
		t.Errorf("CRI after the warm: %+v", img)
	}
}
