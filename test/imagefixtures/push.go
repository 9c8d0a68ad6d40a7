package imagefixtures

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
)

// Spec declares the images to push: named bases whose layers are shared by
// every image built on them, and the images.
type Spec struct {
	Bases  map[string]Base `json:"bases,omitempty"`
	Images []Image         `json:"images"`
	// Compressible makes layer content compress about 2:1 under gzip, so
	// unpacking costs CPU as real layers do; sizes are then uncompressed.
	Compressible bool `json:"compressible,omitempty"`
}

// Base is a set of layers shared between images, per platform.
type Base struct {
	Layers []resource.Quantity `json:"layers"`
	// Foreign makes the Windows entries' base layers non-distributable:
	// declared in the manifest with URLs, not stored in the registry.
	Foreign bool `json:"foreign,omitempty"`
}

// Image is one image index to push.
type Image struct {
	// Ref is repository:tag, relative to the registry it is pushed to.
	Ref string `json:"ref"`
	// Bases are stacked in order below the image's own layers (servercore,
	// then a .NET Framework layer set, say).
	Bases  []string            `json:"bases,omitempty"`
	Layers []resource.Quantity `json:"layers"`
	// Windows lists the os.version of each windows/amd64 entry, e.g.
	// 10.0.20348.2340.
	Windows []string `json:"windows,omitempty"`
	// Linux adds a linux/amd64 entry (what the rig's containerd can unpack).
	Linux bool `json:"linux,omitempty"`
	// Single pushes the one platform as a plain manifest, no index: what
	// `docker build && docker push` on a Windows host makes. Its OS
	// version is then only in the image config.
	Single bool `json:"single,omitempty"`
}

// Pushed describes one pushed index.
type Pushed struct {
	Ref         string     `json:"ref"`
	IndexDigest string     `json:"indexDigest"`
	Entries     []Manifest `json:"entries"`
}

// Manifest is one platform entry of a pushed index.
type Manifest struct {
	OS        string `json:"os"`
	OSVersion string `json:"osVersion,omitempty"`
	Digest    string `json:"digest"`
	// Size is the sum of the layer sizes (foreign layers included), which is
	// what a registry-side size of the image for this platform means.
	Size          int64 `json:"size"`
	Layers        int   `json:"layers"`
	ForeignLayers int   `json:"foreignLayers,omitempty"`
}

// Catalog is the result of a push, by relative reference.
type Catalog map[string]Pushed

// Entry finds the entry of ref for os ("linux" or "windows") and, for
// windows, the build (third part of os.version) that matches exactly.
func (c Catalog) Entry(ref, os, build string) (Pushed, Manifest, bool) {
	p, ok := c[ref]
	if !ok {
		return Pushed{}, Manifest{}, false
	}
	for _, e := range p.Entries {
		if e.OS != os {
			continue
		}
		if os == "windows" && osBuild(e.OSVersion) != build {
			continue
		}
		return p, e, true
	}
	return p, Manifest{}, false
}

// osBuild is the build of a Windows os.version ("20348"), or "".
func osBuild(osVersion string) string {
	v, err := osbuild.Parse(osVersion)
	if err != nil {
		return ""
	}
	return strconv.Itoa(v.Build)
}

// Push builds every image of spec and pushes it to registryHost over plain
// HTTP. Shared base layers are uploaded once (the registry is asked first).
func Push(ctx context.Context, registryHost string, spec Spec) (Catalog, error) {
	catalog := Catalog{}
	for _, img := range spec.Images {
		pushed, err := push(ctx, registryHost, spec, img)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Ref, err)
		}
		catalog[img.Ref] = pushed
	}
	return catalog, nil
}

func push(ctx context.Context, registryHost string, spec Spec, img Image) (Pushed, error) {
	ref, err := name.ParseReference(registryHost+"/"+img.Ref, name.Insecure)
	if err != nil {
		return Pushed{}, err
	}
	for _, b := range img.Bases {
		if _, ok := spec.Bases[b]; !ok {
			return Pushed{}, fmt.Errorf("unknown base %q", b)
		}
	}
	if len(img.Windows) == 0 && !img.Linux {
		return Pushed{}, fmt.Errorf("no platform: set windows os.versions or linux")
	}
	index := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	var entries []Manifest
	platforms := make([]v1.Platform, 0, len(img.Windows)+1)
	for _, v := range img.Windows {
		if osBuild(v) == "" {
			return Pushed{}, fmt.Errorf("windows os.version %q is not major.minor.build[.revision]", v)
		}
		platforms = append(platforms, v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: v})
	}
	if img.Linux {
		platforms = append(platforms, v1.Platform{OS: "linux", Architecture: "amd64"})
	}
	if img.Single {
		return pushSingle(ctx, ref, spec, img, platforms)
	}
	for _, p := range platforms {
		image, entry, err := buildImage(img, spec.Bases, p, spec.Compressible)
		if err != nil {
			return Pushed{}, err
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{
			Add:        image,
			Descriptor: v1.Descriptor{Platform: &p},
		})
		entries = append(entries, entry)
	}
	if err := remote.WriteIndex(ref, index, remote.WithContext(ctx)); err != nil {
		return Pushed{}, err
	}
	digest, err := index.Digest()
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{Ref: ref.String(), IndexDigest: digest.String(), Entries: entries}, nil
}

// pushSingle pushes the image's only platform as a plain manifest; its
// digest stands as the index digest.
func pushSingle(ctx context.Context, ref name.Reference, spec Spec, img Image, platforms []v1.Platform) (Pushed, error) {
	if len(platforms) != 1 {
		return Pushed{}, fmt.Errorf("single: give exactly one platform, not %d", len(platforms))
	}
	image, entry, err := buildImage(img, spec.Bases, platforms[0], spec.Compressible)
	if err != nil {
		return Pushed{}, err
	}
	if err := remote.Write(ref, image, remote.WithContext(ctx)); err != nil {
		return Pushed{}, err
	}
	digest, err := image.Digest()
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{Ref: ref.String(), IndexDigest: digest.String(), Entries: []Manifest{entry}}, nil
}

func buildImage(img Image, bases map[string]Base, p v1.Platform, compressible bool) (v1.Image, Manifest, error) {
	windows := p.OS == "windows"
	flavour := "linux"
	if windows {
		flavour = "windows-" + osBuild(p.OSVersion)
	}
	image := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	image = mutate.ConfigMediaType(image, types.DockerConfigJSON)
	entry := Manifest{OS: p.OS, OSVersion: p.OSVersion}
	var adds []mutate.Addendum
	for _, name := range img.Bases {
		base := bases[name]
		for i, q := range base.Layers {
			seed := fmt.Sprintf("base:%s/%s/%d", name, flavour, i)
			if windows && base.Foreign {
				fl := newForeignLayer(seed, q.Value())
				adds = append(adds, mutate.Addendum{Layer: fl, URLs: []string{fl.url()}, MediaType: types.DockerForeignLayer})
				entry.ForeignLayers++
				continue
			}
			l, err := seededLayer(seed, q.Value(), windows, compressible)
			if err != nil {
				return nil, Manifest{}, err
			}
			adds = append(adds, mutate.Addendum{Layer: l})
		}
	}
	for i, q := range img.Layers {
		l, err := seededLayer(fmt.Sprintf("image:%s/%s/%d", img.Ref, flavour, i), q.Value(), windows, compressible)
		if err != nil {
			return nil, Manifest{}, err
		}
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	image, err := mutate.Append(image, adds...)
	if err != nil {
		return nil, Manifest{}, err
	}
	cfg, err := image.ConfigFile()
	if err != nil {
		return nil, Manifest{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.OSVersion = p.OS, p.Architecture, p.OSVersion
	cfg.Config.Entrypoint = []string{"app"}
	if image, err = mutate.ConfigFile(image, cfg); err != nil {
		return nil, Manifest{}, err
	}
	m, err := image.Manifest()
	if err != nil {
		return nil, Manifest{}, err
	}
	entry.Size = 0
	for _, l := range m.Layers {
		entry.Size += l.Size
	}
	entry.Layers = len(m.Layers)
	d, err := image.Digest()
	if err != nil {
		return nil, Manifest{}, err
	}
	entry.Digest = d.String()
	return image, entry, nil
}
