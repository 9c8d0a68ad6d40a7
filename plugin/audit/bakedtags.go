package audit

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distribution/reference"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// BakedTagMoved: a node of a baked AMI holds a tag at a digest the
// registry's tag no longer names.
const BakedTagMoved = "BAKED_TAG_MOVED"

// bakedAMIs are the AMIs a bake produced: named with --baked-ami, or
// found by bake's tag with --aws.
func bakedAMIs(o Options, r *Report) map[string]bool {
	out := map[string]bool{}
	for _, ami := range append(slices.Clone(o.BakedAMIs), r.bakedAMIs...) {
		out[ami] = true
	}
	return out
}

// movedBakedTags finds, per image referenced by tag, the nodes of baked
// AMIs that hold that tag (kubelet's status.images: the tag and the
// repository digest CRI lists beside it) at another digest than the one
// the registry resolves it to now. The AMI baked the tag as it was at
// build time and kubelet, under IfNotPresent, runs that copy: the warm
// daemon moves a tag it lists, a baked one stays until the AMI is rebuilt.
// resolved is keyed by the pods' references.
func movedBakedTags(nodes map[string]*inventory.Node, baked map[string]bool, resolved map[string]*imagesize.Image) []finding.Finding {
	var out []finding.Finding
	for _, ref := range slices.Sorted(maps.Keys(resolved)) {
		res := resolved[ref]
		named, err := reference.ParseDockerRef(ref)
		if err != nil || res == nil || res.Err != nil || res.Digest == "" {
			continue
		}
		if _, byDigest := named.(reference.Digested); byDigest {
			continue
		}
		var stale []string
		held := map[string]bool{}
		amis := map[string]bool{}
		for _, name := range slices.Sorted(maps.Keys(nodes)) {
			n := nodes[name]
			d := n.TagDigests[named.String()]
			if !baked[n.AMI] || d == "" || d == res.Digest {
				continue
			}
			stale = append(stale, name)
			held[d], amis[n.AMI] = true, true
		}
		if len(stale) == 0 {
			continue
		}
		out = append(out, finding.Finding{
			Code: BakedTagMoved, Severity: finding.Warning, Images: []string{ref}, Nodes: stale,
			Message: fmt.Sprintf("%s: %s of baked AMIs (%s) hold it at %s; the registry's tag now names %s, and kubelet runs the node's copy under imagePullPolicy IfNotPresent",
				ref, countNodes(len(stale)), strings.Join(slices.Sorted(maps.Keys(amis)), ", "), strings.Join(slices.Sorted(maps.Keys(held)), ", "), res.Digest),
			Fix: "rebuild the AMI (aws imagebuilder start-image-pipeline-execution --image-pipeline-arn PIPELINE: its component pulls the tag as it is at build time) and roll the nodes onto it, or reference the image by digest",
		})
	}
	return out
}

func countNodes(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}
