package bake

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/pulltime"
)

// pushWindows pushes an index with one Server 2022 entry made of layers.
func pushWindows(t *testing.T, ref string, layers ...v1.Layer) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.OSVersion = "windows", "amd64", "10.0.20348.2582"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p := v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2582"}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	tag, _ := name.NewTag(ref)
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
}

func TestMakeRanksFromTheAuditAndTheRegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	layer := func(size int64) v1.Layer {
		l, err := random.Layer(size, "application/vnd.docker.image.rootfs.diff.tar.gzip")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	base := layer(4096)
	pushWindows(t, host+"/windows/servercore:ltsc2022", base)
	pushWindows(t, host+"/shop/web:1", base, layer(2048))
	pushWindows(t, host+"/shop/cart:1", base, layer(1024))

	created := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	nodes := []inventory.Node{
		{Name: "n1", OS: "windows", Arch: "amd64", OSVersion: "10.0.20348.2582", Build: 20348, Revision: 2582, Zone: "eu-west-1a", Created: created},
		{Name: "n2", OS: "windows", Arch: "amd64", OSVersion: "10.0.20348.2582", Build: 20348, Revision: 2582, Zone: "eu-west-1b", Created: created.Add(2 * time.Hour)},
		{Name: "l1", OS: "linux", Arch: "amd64"},
	}
	r := &audit.Report{ServerVersion: "v1.36.4-eks-1234", Nodes: nodes,
		Images: []audit.Image{
			{Ref: host + "/shop/web:1", Platforms: []audit.PlatformSize{{NodeOSVersion: "10.0.20348.2582", Pods: 2, Runnable: true}}},
			{Ref: host + "/shop/cart:1", Platforms: []audit.PlatformSize{{NodeOSVersion: "10.0.20348.2582", Pods: 1, Runnable: true}}},
		},
		Pulls: []pulltime.Stat{{Image: host + "/shop/cart:1", Count: 3, PerNode: map[string]int{"n1": 2, "n2": 1}}},
	}
	resolver := &imagesize.Resolver{Concurrency: 2}
	for i := range r.Images {
		res := resolver.Resolve(t.Context(), r.Images[i].Ref)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		r.Images[i].Digest = res.Digest
	}
	p, err := Make(t.Context(), r, resolver, Options{Limits: Limits{MaxBytes: 1 << 30, MinPods: 1},
		AMICached: []string{host + "/windows/servercore:ltsc2022"}, Ctr: DefaultCtr, Generator: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if p.KubernetesMinor != "1.36" || len(p.Builds) != 1 {
		t.Fatalf("plan %+v", p)
	}
	bp := p.Builds[0]
	// cart: 1 pod + 3 pulls beats web's 2 pods; base bytes are on the AMI.
	if bp.Images[0].Ref != host+"/shop/cart:1" || bp.Images[0].Starts != 4 || bp.Images[1].Starts != 2 {
		t.Errorf("order: %+v", bp.Images)
	}
	for _, c := range bp.Images {
		if !c.Chosen || c.ColdBytes >= c.Bytes || !strings.HasPrefix(c.Pinned, host+"/shop/") || !strings.Contains(c.Pinned, "@sha256:") {
			t.Errorf("%s: %+v", c.Ref, c)
		}
	}
	if bp.Component == nil || len(bp.Component.Phases[0].Steps) != 2 || bp.IAMPolicy != nil {
		t.Errorf("component %v, policy %v", bp.Component, bp.IAMPolicy)
	}
	if bp.Launch.ScaleOutPerHour != 1 || bp.Launch.FastLaunch.Region != "eu-west-1" || !strings.Contains(bp.Launch.BaseAMIParameter, "2022-English-Core-EKS_Optimized-1.36") {
		t.Errorf("launch %+v", bp.Launch)
	}
}

// Microsoft republishes servercore:ltsc2022 monthly; an AMI holds its own
// release. What the base AMI caches is what its nodes report, by digest.
func TestBaseAMICreditFollowsTheDigestNodesReport(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	old := baseImageRegistry
	baseImageRegistry = host
	defer func() { baseImageRegistry = old }()
	layer := func(size int64) v1.Layer {
		l, err := random.Layer(size, "application/vnd.docker.image.rootfs.diff.tar.gzip")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	october, november := layer(4096), layer(4096)
	pushWindows(t, host+"/windows/servercore:ltsc2022", october)
	amiDigest := imagesizeDigest(t, host+"/windows/servercore:ltsc2022")
	pushWindows(t, host+"/windows/servercore:ltsc2022", november) // the tag moves on
	pushWindows(t, host+"/shop/web:1", october, layer(2048))

	onNode := map[string]int64{host + "/windows/servercore@" + amiDigest: 1, host + "/windows/servercore:ltsc2022": 1}
	nodes := []inventory.Node{{Name: "n1", OS: "windows", Arch: "amd64", OSVersion: "10.0.20348.2582", Build: 20348, Revision: 2582, Images: onNode}}
	r := &audit.Report{ServerVersion: "v1.36.4", Nodes: nodes,
		Images: []audit.Image{{Ref: host + "/shop/web:1", Platforms: []audit.PlatformSize{{NodeOSVersion: "10.0.20348.2582", Pods: 2, Runnable: true}}}}}
	resolver := &imagesize.Resolver{Concurrency: 2}
	r.Images[0].Digest = resolver.Resolve(t.Context(), r.Images[0].Ref).Digest
	p, err := Make(t.Context(), r, resolver, Options{Limits: Limits{MaxBytes: 1 << 30, MinPods: 1}, Ctr: DefaultCtr, Generator: "test"})
	if err != nil {
		t.Fatal(err)
	}
	bp := p.Builds[0]
	if len(bp.OnBaseAMI) == 0 || !strings.HasSuffix(bp.OnBaseAMI[0], "@"+amiDigest) {
		t.Errorf("base AMI images %v, want servercore at the digest the nodes report", bp.OnBaseAMI)
	}
	if web := bp.Images[0]; web.ColdBytes >= web.Bytes {
		t.Errorf("web's base layer (on the AMI's servercore) counted cold: %d of %d", web.ColdBytes, web.Bytes)
	}
}

func imagesizeDigest(t *testing.T, ref string) string {
	t.Helper()
	res := (&imagesize.Resolver{Concurrency: 1}).Resolve(t.Context(), ref)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res.Digest
}
