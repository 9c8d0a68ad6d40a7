// Package imagesize resolves, from the registry, what an image weighs on a
// given node: the index entry containerd on that node would pick, and the sum
// of that manifest's layer sizes (foreign layers included and counted).
package imagesize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
)

// Manifest is the entry of an image chosen for one platform.
type Manifest struct {
	Digest        string   `json:"digest"`
	OSVersion     string   `json:"osVersion,omitempty"`
	Size          int64    `json:"size"`
	Layers        int      `json:"layers"`
	ForeignLayers int      `json:"foreignLayers,omitempty"`
	ForeignBytes  int64    `json:"foreignBytes,omitempty"`
	LayerDigests  []string `json:"-"`
	LayerSizes    []int64  `json:"-"`
}

// Image is what the registry says about one reference.
type Image struct {
	Ref string `json:"ref"`
	// Digest is the digest the tag resolves to (an index for multi-platform
	// images).
	Digest string `json:"digest,omitempty"`
	// Platforms lists the entries an index offers, os/arch[:os.version].
	Platforms []ocispec.Platform `json:"-"`
	Err       error              `json:"-"`
	entries   []v1.Descriptor
	repo      name.Repository
}

// Resolver looks images up with bounded concurrency, fetching each tag and
// each (repository, manifest digest) once however many nodes ask.
type Resolver struct {
	Concurrency int
	// Keychain chooses credentials per reference (pull secrets, ECR, the
	// default keychain); nil means anonymous.
	Keychain func(ref string) authn.Keychain
	Options  []remote.Option
	// Transport carries the lookups' requests, under the Retry-After and
	// manifest-size handling (nil: go-containerregistry's default). The
	// daemon routes them through the node's registry hosts with it.
	Transport http.RoundTripper
	// Timeout bounds each lookup (a tag with its entries and config, or
	// one manifest), so a registry that accepts the connection and then
	// sends nothing, or a byte a minute, fails that image alone (0: 30 s).
	Timeout time.Duration

	mu        sync.Mutex
	images    map[string]*onceImage
	manifests map[string]*onceManifest
	pullers   map[authn.Keychain]*remote.Puller
}

type onceImage struct {
	once sync.Once
	img  *Image
}

type onceManifest struct {
	once sync.Once
	m    Manifest
	err  error
}

// Resolve looks up ref (a tag or digest reference).
func (r *Resolver) Resolve(ctx context.Context, ref string) *Image {
	r.mu.Lock()
	if r.images == nil {
		r.images = map[string]*onceImage{}
		r.manifests = map[string]*onceManifest{}
	}
	o, ok := r.images[ref]
	if !ok {
		o = &onceImage{}
		r.images[ref] = o
	}
	r.mu.Unlock()
	o.once.Do(func() {
		ctx, cancel := r.lookupContext(ctx)
		defer cancel()
		o.img = r.fetchImage(ctx, ref)
	})
	return o.img
}

// Head is the digest ref names now, by a HEAD of its manifest (registries
// that meter pulls count GETs, not HEADs: Docker Hub's rate limit), with
// no request for a reference by digest. go-containerregistry v0.22.1
// remote.Head sends a HEAD and reads Docker-Content-Digest (pkg/v1/remote/fetcher.go
// headManifest).
func (r *Resolver) Head(ctx context.Context, ref string) (string, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("bad reference: %w", err)
	}
	if d, ok := parsed.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	ctx, cancel := r.lookupContext(ctx)
	defer cancel()
	desc, err := remote.Head(parsed, r.remoteOptions(ctx, ref)...)
	if err != nil {
		return "", describeIn(ctx, err)
	}
	return desc.Digest.String(), nil
}

// Forget drops ref's record if its lookup failed, so the next Resolve asks
// the registry again; it reports whether there was one to drop. Call it
// when no Resolve of ref is in flight. The audit forgets an image whose
// early lookup failed with fewer pull secrets than its pods turned out to
// have.
func (r *Resolver) Forget(ref string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.images[ref]
	if !ok || (o.img != nil && o.img.Err == nil) {
		return false
	}
	delete(r.images, ref)
	return true
}

func (r *Resolver) fetchImage(ctx context.Context, ref string) *Image {
	img := &Image{Ref: ref}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		img.Err = fmt.Errorf("bad reference: %w", err)
		return img
	}
	img.repo = parsed.Context()
	desc, err := remote.Get(parsed, r.remoteOptions(ctx, ref)...)
	if err != nil {
		img.Err = describeIn(ctx, err)
		return img
	}
	img.Digest = desc.Digest.String()
	if desc.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			img.Err = err
			return img
		}
		for _, d := range idx.Manifests {
			if d.Platform == nil || !d.MediaType.IsImage() {
				continue
			}
			img.entries = append(img.entries, d)
			img.Platforms = append(img.Platforms, ocispec.Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, OSVersion: d.Platform.OSVersion, Variant: d.Platform.Variant})
		}
		return img
	}
	// A single-platform image (what `docker build && docker push` on a
	// Windows host makes): its platform, OS version included, is only in
	// its config. containerd reads the config and refuses an image whose
	// platform does not match the node (containerd v2.4.2 core/images
	// image.go Manifest; v1.7.35 images/image.go the same), so the config
	// is fetched (a few KB, once per digest) and judged by the same rule.
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		img.Err = err
		return img
	}
	platform := r.configPlatform(ctx, img.repo.Digest(m.Config.Digest.String()), ref)
	r.storeManifest(img.repo.Digest(desc.Digest.String()).String(), summarize(desc.Digest.String(), platform.OSVersion, m))
	img.entries = []v1.Descriptor{{Digest: desc.Digest, MediaType: desc.MediaType}}
	img.Platforms = []ocispec.Platform{platform}
	return img
}

// configPlatform reads the platform from an image config blob; an empty
// platform (matches any node, as before) when the config cannot be read.
func (r *Resolver) configPlatform(ctx context.Context, config name.Digest, ref string) ocispec.Platform {
	layer, err := remote.Layer(config, r.remoteOptions(ctx, ref)...)
	if err != nil {
		return ocispec.Platform{}
	}
	rc, err := layer.Compressed()
	if err != nil {
		return ocispec.Platform{}
	}
	defer rc.Close()
	cfg, err := v1.ParseConfigFile(io.LimitReader(rc, 4<<20))
	if err != nil {
		return ocispec.Platform{}
	}
	return ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, OSVersion: cfg.OSVersion, Variant: cfg.Variant}
}

// For returns the manifest img resolves to on host, ok=false when no entry
// can run there.
func (r *Resolver) For(ctx context.Context, img *Image, host ocispec.Platform) (Manifest, bool, error) {
	return r.ForRule(ctx, img, host, osbuild.HighestOSVersion)
}

// ForRule is For on a node whose containerd chooses among matching entries
// by rule (see osbuild.RuleOf).
func (r *Resolver) ForRule(ctx context.Context, img *Image, host ocispec.Platform, rule osbuild.Rule) (Manifest, bool, error) {
	if img.Err != nil {
		return Manifest{}, false, img.Err
	}
	i := 0
	if img.Platforms[0].OS != "" {
		if i = osbuild.PickFor(host, img.Platforms, rule); i < 0 {
			return Manifest{}, false, nil
		}
	}
	d := img.entries[i]
	key := img.repo.Digest(d.Digest.String()).String()
	r.mu.Lock()
	o, ok := r.manifests[key]
	if !ok {
		o = &onceManifest{}
		r.manifests[key] = o
	}
	r.mu.Unlock()
	o.once.Do(func() {
		ctx, cancel := r.lookupContext(ctx)
		defer cancel()
		desc, err := remote.Get(img.repo.Digest(d.Digest.String()), r.remoteOptions(ctx, img.Ref)...)
		if err != nil {
			o.err = describeIn(ctx, err)
			return
		}
		m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			o.err = err
			return
		}
		o.m = summarize(d.Digest.String(), img.Platforms[i].OSVersion, m)
	})
	return o.m, true, o.err
}

func (r *Resolver) storeManifest(key string, m Manifest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &onceManifest{m: m}
	o.once.Do(func() {})
	r.manifests[key] = o
}

func summarize(digest, osVersion string, m *v1.Manifest) Manifest {
	out := Manifest{Digest: digest, OSVersion: osVersion, Layers: len(m.Layers)}
	for _, l := range m.Layers {
		out.Size += l.Size
		out.LayerDigests = append(out.LayerDigests, l.Digest.String())
		out.LayerSizes = append(out.LayerSizes, l.Size)
		if l.MediaType == types.DockerForeignLayer || l.MediaType == types.OCIRestrictedLayer || l.MediaType == types.OCIUncompressedRestrictedLayer {
			out.ForeignLayers++
			out.ForeignBytes += l.Size
		}
	}
	return out
}

// ResolveAll resolves refs with at most Concurrency lookups at a time.
func (r *Resolver) ResolveAll(ctx context.Context, refs []string) map[string]*Image {
	var g errgroup.Group
	g.SetLimit(r.limit())
	var mu sync.Mutex
	out := make(map[string]*Image, len(refs))
	for _, ref := range refs {
		g.Go(func() error {
			img := r.Resolve(ctx, ref)
			mu.Lock()
			out[ref] = img
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// Want is one (image, node platform) whose manifest a report needs.
type Want struct {
	Image *Image
	Host  ocispec.Platform
}

// Prefetch resolves every want's manifest with at most Concurrency requests
// in flight, so the sequential report code afterwards only reads the cache.
func (r *Resolver) Prefetch(ctx context.Context, wants []Want) {
	var g errgroup.Group
	g.SetLimit(r.limit())
	for _, w := range wants {
		if w.Image == nil || w.Image.Err != nil {
			continue
		}
		g.Go(func() error {
			_, _, _ = r.For(ctx, w.Image, w.Host)
			return nil
		})
	}
	_ = g.Wait()
}

func (r *Resolver) limit() int {
	if r.Concurrency <= 0 {
		return 8
	}
	return r.Concurrency
}

// OSVersions lists an image's Windows os.versions, for error messages.
func (img *Image) OSVersions() []string {
	var out []string
	for _, p := range img.Platforms {
		if p.OS == "windows" {
			out = append(out, p.OSVersion)
		}
	}
	sort.Strings(out)
	return out
}

// describe turns registry errors into the short reasons users act on,
// from the HTTP status the registry answered.
func describe(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("unauthorized (401): check the pods' imagePullSecrets or registry credentials")
		case http.StatusForbidden:
			return fmt.Errorf("denied (403): the credentials may not pull this repository")
		case http.StatusNotFound:
			return fmt.Errorf("not found (404) in the registry")
		}
	}
	return err
}
