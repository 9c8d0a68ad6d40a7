package imagefixtures

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/apimachinery/pkg/api/resource"
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func TestPushBuildsWindowsShapedIndexesWithSharedAndForeignBases(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	spec := Spec{
		Bases: map[string]Base{
			"servercore": {Layers: []resource.Quantity{q("64Ki"), q("16Ki")}},
			"old":        {Layers: []resource.Quantity{q("1500Mi")}, Foreign: true},
		},
		Images: []Image{
			{Ref: "apps/a:1", Bases: []string{"servercore"}, Layers: []resource.Quantity{q("8Ki")}, Windows: []string{"10.0.17763.5576", "10.0.20348.2340"}, Linux: true},
			{Ref: "apps/b:1", Bases: []string{"servercore"}, Layers: []resource.Quantity{q("4Ki"), q("4Ki")}, Windows: []string{"10.0.20348.2340", "10.0.26100.1742"}},
			{Ref: "legacy/c:1", Bases: []string{"old"}, Layers: []resource.Quantity{q("4Ki")}, Windows: []string{"10.0.17763.5576"}},
		},
	}
	catalog, err := Push(context.Background(), host, spec)
	if err != nil {
		t.Fatal(err)
	}

	idx := fetchIndex(t, host+"/apps/a:1")
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.DockerManifestList || len(im.Manifests) != 3 {
		t.Fatalf("index: media type %s, %d entries; want a manifest list with 3", im.MediaType, len(im.Manifests))
	}
	var versions []string
	for _, d := range im.Manifests {
		versions = append(versions, d.Platform.OS+"/"+d.Platform.OSVersion)
	}
	if got := strings.Join(versions, ","); got != "windows/10.0.17763.5576,windows/10.0.20348.2340,linux/" {
		t.Fatalf("platforms = %s", got)
	}

	// a:1 and b:1 on 20348 share both servercore layers; 17763 has its own.
	la := layerDigests(t, host+"/apps/a:1", "10.0.20348.2340")
	lb := layerDigests(t, host+"/apps/b:1", "10.0.20348.2340")
	l17763 := layerDigests(t, host+"/apps/a:1", "10.0.17763.5576")
	if la[0] != lb[0] || la[1] != lb[1] || la[2] == lb[2] {
		t.Fatalf("20348 bases not shared as expected: %v vs %v", la, lb)
	}
	if l17763[0] == la[0] {
		t.Fatal("17763 and 20348 entries share a base layer; builds must differ")
	}

	_, entry, ok := catalog.Entry("legacy/c:1", "windows", "17763")
	if !ok || entry.ForeignLayers != 1 || entry.Size < 1500<<20 {
		t.Fatalf("legacy entry = %+v, want one foreign layer counted in its size", entry)
	}
	// The foreign blob is declared, not stored.
	img := fetchImage(t, host+"/legacy/c:1", "10.0.17763.5576")
	m, _ := img.Manifest()
	if m.Layers[0].MediaType != types.DockerForeignLayer || len(m.Layers[0].URLs) == 0 {
		t.Fatalf("first layer = %+v, want a foreign layer with URLs", m.Layers[0])
	}
	repo, _ := name.NewRepository(host+"/legacy/c", name.Insecure)
	foreign, err := remote.Layer(repo.Digest(m.Layers[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := foreign.Compressed(); err == nil {
		rc.Close()
		t.Fatal("the foreign layer's blob is in the registry; it must only be declared")
	}
	_, linux, ok := catalog.Entry("apps/a:1", "linux", "")
	if !ok || linux.Layers != 3 || linux.ForeignLayers != 0 {
		t.Fatalf("linux entry = %+v", linux)
	}
}

func TestPushRejectsBadOSVersion(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	_, err := Push(context.Background(), strings.TrimPrefix(srv.URL, "http://"), Spec{Images: []Image{{Ref: "apps/x:1", Windows: []string{"ltsc2022"}}}})
	if err == nil || !strings.Contains(err.Error(), "os.version") {
		t.Fatalf("err = %v, want an os.version error", err)
	}
}

func fetchIndex(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func fetchImage(t *testing.T, ref, osVersion string) v1.Image {
	t.Helper()
	r, _ := name.ParseReference(ref, name.Insecure)
	os := "windows"
	if osVersion == "" {
		os = "linux"
	}
	img, err := remote.Image(r, remote.WithPlatform(v1.Platform{OS: os, Architecture: "amd64", OSVersion: osVersion}))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigests(t *testing.T, ref, osVersion string) []string {
	t.Helper()
	m, err := fetchImage(t, ref, osVersion).Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

func TestPushSinglePushesAPlainManifestWithTheVersionInItsConfig(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	spec := Spec{Images: []Image{{Ref: "apps/single:1", Layers: []resource.Quantity{q("4Ki")}, Windows: []string{"10.0.17763.5576"}, Single: true}}}
	catalog, err := Push(context.Background(), host, spec)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/apps/single:1", name.Insecure)
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.DockerManifestSchema2 || desc.Digest.String() != catalog["apps/single:1"].IndexDigest {
		t.Fatalf("pushed %s %s, catalog %+v", desc.MediaType, desc.Digest, catalog["apps/single:1"])
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil || cfg.OS != "windows" || cfg.OSVersion != "10.0.17763.5576" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if _, err := Push(context.Background(), host, Spec{Images: []Image{{Ref: "apps/two:1", Windows: []string{"10.0.17763.1", "10.0.20348.1"}, Single: true}}}); err == nil {
		t.Error("a single manifest with two platforms was pushed")
	}
}
