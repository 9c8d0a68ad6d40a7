//go:build linux

package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime/runtimetest"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// The runtime conformance suite on real containerd, through each pull
// method the node's line has: the client as CRI on 1.7 pulls, and
// containerd 2.x's Transfer service. The unit tests' fakes run the same
// suite. Each case gets a containerd namespace of its own, so it starts
// with none of the images.
func TestDaemonRuntimeConformance(t *testing.T) {
	r, _ := startRig(t, "")
	ctx := context.Background()
	if _, err := imagefixtures.Push(ctx, r.Registry.Host(), imagefixtures.Spec{Images: []imagefixtures.Image{
		{Ref: "conformance/ref:1", Layers: []resource.Quantity{resource.MustParse("256Ki"), resource.MustParse("64Ki")}, Linux: true},
		{Ref: "conformance/other:1", Layers: []resource.Quantity{resource.MustParse("128Ki")}, Linux: true},
	}}); err != nil {
		t.Fatal(err)
	}
	platform := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	ref := r.Registry.Host() + "/conformance/ref:1"
	layers := linuxLayers(t, ref)
	major := 2
	methods := map[string]bool{"client": false, "transfer": true}
	if r.Containerd.Line == "1.7" {
		major = 1
		delete(methods, "transfer")
	}
	cfg, err := nodeconfig.Read(r.Containerd.ConfigFile, major)
	if err != nil {
		t.Fatal(err)
	}
	var cases atomic.Int64
	for method, transfer := range methods {
		t.Run(method, func(t *testing.T) {
			runtimetest.Run(t, func(t *testing.T) runtimetest.Subject {
				ns := fmt.Sprintf("conformance-%d", cases.Add(1))
				client, err := containerd.New(r.Containerd.Address, containerd.WithDefaultNamespace(ns))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { client.Close() })
				rt := &noderuntime.Containerd{Client: client, Snapshotter: r.Containerd.Snapshotter, Platform: platform,
					Matcher: platforms.Only(platform), Keychain: authn.NewMultiKeychain(), CRI: cfg, Transfer: transfer, Owner: "conformance"}
				return runtimetest.Subject{Runtime: rt, Ref: ref, Other: r.Registry.Host() + "/conformance/other:1",
					Layers: layers, Missing: r.Registry.Host() + "/conformance/none:1"}
			})
		})
	}
}

// linuxLayers are ref's linux/amd64 layer blobs, digest to size.
func linuxLayers(t *testing.T, ref string) map[string]int64 {
	t.Helper()
	layers := map[string]int64{}
	for _, l := range imagefixtures.LinuxLayers(t, ref) {
		layers[l.Digest] = l.Size
	}
	if len(layers) == 0 {
		t.Fatalf("%s: no layers", ref)
	}
	return layers
}
