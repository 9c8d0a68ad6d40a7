//go:build linux

package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
)

// The baked group's nodes hold shop/web:1 as their AMI baked it (kubelet
// reports the tag beside its repository digest); the stock group holds it
// too.
const bakedTagFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: shop/web:1, layers: [64Ki], windows: [10.0.20348.2582]}
  - {ref: shop/web:2, layers: [96Ki], windows: [10.0.20348.2582]}
nodeGroups:
- {name: stock, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0a1b2c3d4e5f60718, kubelet: v1.37.2-eks-1a2b3c4, cachedImages: [shop/web:1]}
- {name: baked, kind: managed, count: 2, windowsVersion: 10.0.20348.2582, ami: ` + bakedAMI + `, kubelet: v1.37.2-eks-1a2b3c4, cachedImages: [shop/web:1]}
workloads:
- {name: web, replicas: 3, images: [shop/web:1]}
`

// audit says when a tag baked into an AMI no longer names what the
// registry has: the nodes of that AMI run the old copy. Nothing is said
// while the tag has not moved, nor of nodes of other AMIs.
func TestAuditSaysWhenABakedTagMoved(t *testing.T) {
	r, applied := startRig(t, bakedTagFleet)
	moved := func(rep *audit.Report) []finding.Finding {
		var out []finding.Finding
		for _, f := range rep.Findings {
			if f.Code == audit.BakedTagMoved {
				out = append(out, f)
			}
		}
		return out
	}
	if got := moved(auditJSON(t, r.Kubeconfig, "-n", "default", "--baked-ami", bakedAMI)); len(got) != 0 {
		t.Fatalf("the tag has not moved, yet: %+v", got)
	}
	web := applied.Ref("shop/web:1")
	moveTag(t, applied.Ref("shop/web:2"), web)
	rep := auditJSON(t, r.Kubeconfig, "-n", "default", "--baked-ami", bakedAMI)
	got := moved(rep)
	if len(got) != 1 {
		t.Fatalf("after the tag moved: %+v", got)
	}
	f := got[0]
	if f.Severity != finding.Warning || !slices.Equal(f.Images, []string{web}) || len(f.Nodes) != 2 || !strings.Contains(f.Message, bakedAMI) {
		t.Errorf("finding %+v", f)
	}
	var baked []string
	for _, n := range rep.Nodes {
		if n.Group == "baked" {
			baked = append(baked, n.Name)
		}
	}
	slices.Sort(baked)
	if !slices.Equal(f.Nodes, baked) {
		t.Errorf("nodes %v, want the baked group's %v", f.Nodes, baked)
	}
}
