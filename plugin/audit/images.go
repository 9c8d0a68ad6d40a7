package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// imageResolution is one audit's registry view of the images: each
// reference resolved, the layers every chosen entry has (for shared
// bytes), and the incompatibilities found on the way.
type imageResolution struct {
	o        Options
	c        *collection
	resolved map[string]*imagesize.Image
	// layerOwners maps a layer digest to the images whose entries have it.
	layerOwners  map[string]map[string]bool
	incompatible incompatibilities
}

func imageReports(ctx context.Context, o Options, r *Report, c *collection) {
	refs := imageRefs(c)
	ir := &imageResolution{o: o, c: c, layerOwners: map[string]map[string]bool{}, incompatible: incompatibilities{}}
	if o.Resolver != nil {
		o.progress("resolving %d images in the registry…", len(refs))
		ir.resolved = o.Resolver.ResolveAll(ctx, refs)
		o.Resolver.Prefetch(ctx, ir.wants())
	}
	var images []Image
	// entries[i][j] is the manifest behind images[i].Platforms[j], kept for
	// the shared-bytes pass.
	var entries [][]imagesize.Manifest
	for _, ref := range refs {
		if u := c.uses[ref]; u != nil {
			img, found := ir.imageReport(ctx, ref, u)
			images = append(images, img)
			entries = append(entries, found)
		}
	}
	// Shared bytes need every image's layers, so they come second.
	for i := range images {
		ir.addSharedBytes(&images[i], entries[i])
		if images[i].Error != "" {
			r.Findings = append(r.Findings, lookupFailed(images[i]))
		}
	}
	ir.checkPending(ctx)
	r.Findings = append(r.Findings, ir.incompatible.findings()...)
	if ir.resolved != nil {
		r.Findings = append(r.Findings, movedBakedTags(c.selected, bakedAMIs(o, r), ir.resolved)...)
	}
	r.Images = images
}

// imageRefs are the images of scheduled pods and of Pending ones, sorted.
func imageRefs(c *collection) []string {
	refs := make([]string, 0, len(c.uses))
	for ref := range c.uses {
		refs = append(refs, ref)
	}
	for _, p := range c.pending {
		if c.uses[p.image] == nil {
			refs = append(refs, p.image)
		}
	}
	sort.Strings(refs)
	return refs
}

// wants are the (image, host platform) pairs the report will ask for, so
// the resolver fetches their manifests at once.
func (ir *imageResolution) wants() []imagesize.Want {
	var wants []imagesize.Want
	for ref, u := range ir.c.uses {
		seen := map[string]bool{}
		for name := range u.nodes {
			n := ir.c.selected[name]
			if key := n.OS + "/" + n.OSVersion; !seen[key] {
				seen[key] = true
				wants = append(wants, imagesize.Want{Image: ir.resolved[ref], Host: hostOf(n)})
			}
		}
	}
	for _, p := range ir.c.pending {
		for _, name := range p.candidates {
			wants = append(wants, imagesize.Want{Image: ir.resolved[p.image], Host: hostOf(ir.c.selected[name])})
		}
	}
	return wants
}

// imageReport is one image's row: usage, cache coverage and the entry it
// has for each OS version its nodes run.
func (ir *imageResolution) imageReport(ctx context.Context, ref string, u *usage) (Image, []imagesize.Manifest) {
	img := Image{Ref: ref, Pods: u.pods, PodNames: u.podNames, Nodes: len(u.nodes)}
	versions := map[string]*inventory.Node{}
	for name := range u.nodes {
		n := ir.c.selected[name]
		if hasImage(n, ref) {
			img.CachedOn++
			img.OnNodeBytes = max(img.OnNodeBytes, n.Images[ref])
		}
		// Nodes of one OS version whose containerd lines choose differently
		// among matching entries may run different entries.
		versions[n.OS+"/"+n.OSVersion+"/"+ruleOf(n).String()] = n
	}
	res := ir.resolved[ref]
	if res == nil {
		return img, nil
	}
	img.Digest = res.Digest
	if res.Err != nil {
		img.Error = res.Err.Error()
	}
	var found []imagesize.Manifest
	for _, key := range slices.Sorted(maps.Keys(versions)) {
		n := versions[key]
		m, ok, err := ir.o.Resolver.ForRule(ctx, res, hostOf(n), ruleOf(n))
		if err != nil {
			if img.Error == "" {
				img.Error = err.Error()
			}
			continue
		}
		img.Platforms = append(img.Platforms, ir.platformSize(ref, u, n, m, ok, res))
		found = append(found, m)
	}
	return img, found
}

// platformSize is the image on nodes of n's OS version: the entry m when
// ok, else an incompatibility for each such node.
func (ir *imageResolution) platformSize(ref string, u *usage, n *inventory.Node, m imagesize.Manifest, ok bool, res *imagesize.Image) PlatformSize {
	ps := PlatformSize{NodeOSVersion: nodeVersion(n), Runnable: ok}
	if n.OS == "windows" {
		ps.EntryRule = ruleOf(n).String()
	}
	sameVersion := func(name string) bool {
		sn := ir.c.selected[name]
		return sn.OS == n.OS && sn.OSVersion == n.OSVersion && ruleOf(sn) == ruleOf(n)
	}
	for name, count := range u.podsOn {
		if sameVersion(name) {
			ps.Pods += count
		}
	}
	if !ok {
		for name, pods := range u.nodes {
			if sameVersion(name) {
				ir.incompatible.add(ref, nodeVersion(n), name, pods, res)
			}
		}
		return ps
	}
	ps.EntryOSVersion, ps.Digest, ps.Size, ps.Layers, ps.ForeignLayers = m.OSVersion, m.Digest, m.Size, m.Layers, m.ForeignLayers
	for _, d := range m.LayerDigests {
		if ir.layerOwners[d] == nil {
			ir.layerOwners[d] = map[string]bool{}
		}
		ir.layerOwners[d][ref] = true
	}
	return ps
}

func (ir *imageResolution) addSharedBytes(img *Image, entries []imagesize.Manifest) {
	for j := range img.Platforms {
		ps, m := &img.Platforms[j], entries[j]
		for k, d := range m.LayerDigests {
			if len(ir.layerOwners[d]) > 1 {
				ps.SharedBytes += m.LayerSizes[k]
			}
		}
	}
}

// checkPending flags Pending pods whose image has no entry for a node they
// could land on.
func (ir *imageResolution) checkPending(ctx context.Context) {
	for _, p := range ir.c.pending {
		res := ir.resolved[p.image]
		if res == nil || res.Err != nil {
			continue
		}
		for _, name := range p.candidates {
			n := ir.c.selected[name]
			if _, ok, err := ir.o.Resolver.For(ctx, res, hostOf(n)); err == nil && !ok {
				ir.incompatible.add(p.image, nodeVersion(n), name, []string{p.pod}, res)
			}
		}
	}
}

func lookupFailed(img Image) finding.Finding {
	return finding.Finding{
		Code: ImageLookupFailed, Severity: finding.Warning, Images: []string{img.Ref},
		Message: fmt.Sprintf("registry lookup of %s failed: %s", img.Ref, img.Error),
		Fix:     "check the reference and the pull secrets / registry credentials the audit runs with",
	}
}

func hostOf(n *inventory.Node) ocispec.Platform {
	return osbuild.HostPlatform(n.OS, n.Arch, n.OSVersion)
}

// ruleOf is the entry choice of the node's containerd, from the version
// its Node reports (containerd://1.7.27).
func ruleOf(n *inventory.Node) osbuild.Rule {
	return osbuild.RuleOf(n.Containerd)
}

func hasImage(n *inventory.Node, ref string) bool {
	_, ok := n.Images[ref]
	return ok
}

func nodeVersion(n *inventory.Node) string {
	if n.OS == "windows" {
		return n.OSVersion
	}
	return n.OS + "/" + n.Arch
}

func orNone(v []string) string {
	if len(v) == 0 {
		return "no Windows entry"
	}
	return strings.Join(v, ", ")
}
