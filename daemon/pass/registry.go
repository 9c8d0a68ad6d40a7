package pass

import (
	"context"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
)

// RegistryPlanner plans from the registry: the digest a tag names now and
// the layers of the entry the node's containerd will pick. Make a new one
// per run; it caches every answer.
type RegistryPlanner struct {
	Resolver *imagesize.Resolver
	Host     ocispec.Platform
	// Rule is how the node's containerd picks among matching entries.
	Rule osbuild.Rule
}

// Plan implements Planner.
func (p RegistryPlanner) Plan(ctx context.Context, ref string) (Plan, error) {
	img := p.Resolver.Resolve(ctx, ref)
	if img.Err != nil {
		return Plan{}, img.Err
	}
	m, ok, err := p.Resolver.ForRule(ctx, img, p.Host, p.Rule)
	if err != nil {
		return Plan{}, err
	}
	if !ok {
		return Plan{}, fmt.Errorf("no match for platform %s/%s %s: the image offers %s", p.Host.OS, p.Host.Architecture, p.Host.OSVersion, strings.Join(img.OSVersions(), ", "))
	}
	return Plan{Digest: img.Digest, Layers: m.LayerDigests, LayerSizes: m.LayerSizes, Size: m.Size}, nil
}

// Digest implements Planner: the digest the tag names now, by HEAD.
func (p RegistryPlanner) Digest(ctx context.Context, ref string) (string, error) {
	return p.Resolver.Head(ctx, ref)
}

// registryRefused reports whether a planning error is the registry
// refusing the reference or the credentials, which the node's containerd
// may see otherwise, unlike a platform the image does not offer or a
// reference that does not parse.
func registryRefused(err error) bool {
	msg := err.Error()
	for _, s := range []string{"401", "403", "404", "unauthorized", "denied", "UNAUTHORIZED", "DENIED", "not found", "NOT_FOUND", "MANIFEST_UNKNOWN", "NAME_UNKNOWN"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// RegistryPlanner is the Planner the daemon uses on a node.
var _ Planner = RegistryPlanner{}
