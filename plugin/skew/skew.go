// Package skew checks a Windows fleet against the Kubernetes version-skew
// policy and against the EKS advice of one AMI and one kubelet everywhere.
package skew

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/containerdversion"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// Finding codes.
const (
	KubeletNewerThanAPIServer = "KUBELET_NEWER_THAN_APISERVER"
	KubeletSkewUnsupported    = "KUBELET_SKEW_UNSUPPORTED"
	KubeletBehindAPIServer    = "KUBELET_BEHIND_APISERVER"
	KubeletVersionsMixed      = "KUBELET_VERSIONS_MIXED"
	AMIMixedInGroup           = "AMI_MIXED_IN_GROUP"
	AMIMixedInCluster         = "AMI_MIXED_IN_CLUSTER"
	OSBuildsMixed             = "OS_BUILDS_MIXED"
	OSRevisionsMixed          = "OS_REVISIONS_MIXED"
	AMIUnknown                = "AMI_UNKNOWN"
	PinsNotHonoured           = "PINS_NOT_HONOURED"
)

var minorRE = regexp.MustCompile(`^v?(\d+)\.(\d+)`)

// Minor is the minor version of a Kubernetes version (v1.35.2-eks-… → 35).
func Minor(version string) (int, bool) {
	m := minorRE.FindStringSubmatch(version)
	if m == nil || m[1] != "1" {
		return 0, false
	}
	n, err := strconv.Atoi(m[2])
	return n, err == nil
}

// maxKubeletLag is how many minors a kubelet may trail the apiserver: three
// since 1.25, two before.
func maxKubeletLag(kubeletMinor int) int {
	if kubeletMinor < 25 {
		return 2
	}
	return 3
}

// Check returns the skew findings for nodes against the apiserver version:
// each family (kubelet versions, AMIs, Windows builds) in its own pass.
func Check(serverVersion string, nodes []inventory.Node) []finding.Finding {
	out := kubeletFindings(serverVersion, nodes)
	out = append(out, amiFindings(nodes)...)
	out = append(out, buildFindings(nodes)...)
	out = append(out, pinFindings(nodes)...)
	finding.Sort(out)
	return out
}

// kubeletFindings checks each kubelet version against the skew policy and
// the fleet for more than one version.
func kubeletFindings(serverVersion string, nodes []inventory.Node) []finding.Finding {
	var out []finding.Finding
	byKubelet := map[string][]string{}
	for _, n := range nodes {
		byKubelet[n.Kubelet] = append(byKubelet[n.Kubelet], n.Name)
	}
	if serverMinor, ok := Minor(serverVersion); ok {
		for _, kubelet := range slices.Sorted(maps.Keys(byKubelet)) {
			if f, ok := kubeletSkew(serverVersion, serverMinor, kubelet, byKubelet[kubelet]); ok {
				out = append(out, f)
			}
		}
	}
	if len(byKubelet) > 1 {
		out = append(out, finding.Finding{
			Code: KubeletVersionsMixed, Severity: finding.Warning, Nodes: allNames(nodes),
			Message: fmt.Sprintf("%d kubelet versions across Windows nodes: %s", len(byKubelet), strings.Join(slices.Sorted(maps.Keys(byKubelet)), ", ")),
			Fix:     "converge every Windows node group on one EKS-optimized AMI and kubelet version",
		})
	}
	return out
}

// kubeletSkew is the finding for the nodes on one kubelet version, if any.
func kubeletSkew(serverVersion string, serverMinor int, kubelet string, names []string) (finding.Finding, bool) {
	km, ok := Minor(kubelet)
	if !ok {
		return finding.Finding{}, false
	}
	switch lag := serverMinor - km; {
	case lag < 0:
		return finding.Finding{
			Code: KubeletNewerThanAPIServer, Severity: finding.Error, Nodes: names,
			Message: fmt.Sprintf("kubelet %s is newer than the apiserver %s; the skew policy never allows that", kubelet, serverVersion),
			Fix:     "upgrade the control plane first, or replace these nodes with ones on the apiserver's minor",
		}, true
	case lag > maxKubeletLag(km):
		return finding.Finding{
			Code: KubeletSkewUnsupported, Severity: finding.Error, Nodes: names,
			Message: fmt.Sprintf("kubelet %s is %d minors behind the apiserver %s; the skew policy allows %d", kubelet, lag, serverVersion, maxKubeletLag(km)),
			Fix:     fmt.Sprintf("roll these nodes to an EKS-optimized Windows AMI for 1.%d", serverMinor),
		}, true
	case lag > 0:
		return finding.Finding{
			Code: KubeletBehindAPIServer, Severity: finding.Info, Nodes: names,
			Message: fmt.Sprintf("kubelet %s is %d minor(s) behind the apiserver %s (within policy)", kubelet, lag, serverVersion),
			Fix:     fmt.Sprintf("plan a node roll to the 1.%d EKS-optimized Windows AMI", serverMinor),
		}, true
	}
	return finding.Finding{}, false
}

// amiFindings checks for more than one AMI in a node group or the fleet,
// and for nodes whose AMI is unknown.
func amiFindings(nodes []inventory.Node) []finding.Finding {
	var out []finding.Finding
	amis := map[string][]string{}
	unknownAMI := []string{}
	groupAMIs := map[string]map[string][]string{}
	for _, n := range nodes {
		if n.AMI == "" {
			unknownAMI = append(unknownAMI, n.Name)
			continue
		}
		amis[n.AMI] = append(amis[n.AMI], n.Name)
		if n.Group != "" {
			if groupAMIs[n.Group] == nil {
				groupAMIs[n.Group] = map[string][]string{}
			}
			groupAMIs[n.Group][n.AMI] = append(groupAMIs[n.Group][n.AMI], n.Name)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(groupAMIs)) {
		if len(groupAMIs[g]) > 1 {
			out = append(out, finding.Finding{
				Code: AMIMixedInGroup, Severity: finding.Warning, Nodes: flatten(groupAMIs[g]),
				Message: fmt.Sprintf("node group %s runs %d AMIs: %s", g, len(groupAMIs[g]), strings.Join(slices.Sorted(maps.Keys(groupAMIs[g])), ", ")),
				Fix:     "finish the node group's rolling update so every node runs its launch template's AMI",
			})
		}
	}
	if len(amis) > 1 {
		out = append(out, finding.Finding{
			Code: AMIMixedInCluster, Severity: finding.Warning, Nodes: flatten(amis),
			Message: fmt.Sprintf("%d AMIs across Windows nodes: %s", len(amis), strings.Join(slices.Sorted(maps.Keys(amis)), ", ")),
			Fix:     "use one EKS-optimized Windows AMI (or one custom AMI built from it) for every Windows node group",
		})
	}
	if len(unknownAMI) > 0 {
		out = append(out, finding.Finding{
			Code: AMIUnknown, Severity: finding.Info, Nodes: unknownAMI,
			Message: fmt.Sprintf("%d node(s) carry no AMI label (Karpenter or self-managed)", len(unknownAMI)),
			Fix:     "run with --aws to read their AMI from EC2",
		})
	}
	return out
}

// buildFindings checks for more than one Windows build, and for one build
// at unequal patch levels.
func buildFindings(nodes []inventory.Node) []finding.Finding {
	var out []finding.Finding
	builds := map[int][]string{}
	revisions := map[int]map[int][]string{}
	for _, n := range nodes {
		if n.Build == 0 {
			continue
		}
		builds[n.Build] = append(builds[n.Build], n.Name)
		if revisions[n.Build] == nil {
			revisions[n.Build] = map[int][]string{}
		}
		revisions[n.Build][n.Revision] = append(revisions[n.Build][n.Revision], n.Name)
	}
	if len(builds) > 1 {
		var names []string
		for _, b := range sortedInts(builds) {
			names = append(names, fmt.Sprintf("%d (%d nodes)", b, len(builds[b])))
		}
		out = append(out, finding.Finding{
			Code: OSBuildsMixed, Severity: finding.Info, Nodes: allNames(nodes),
			Message: "Windows builds in the fleet: " + strings.Join(names, ", ") + "; each needs images built for it and its own AMI",
			Fix:     "pin Windows workloads to a build with node.kubernetes.io/windows-build and keep multi-build image indexes",
		})
	}
	for _, b := range sortedInts(revisions) {
		if len(revisions[b]) < 2 {
			continue
		}
		var revs, names []string
		for _, r := range sortedInts(revisions[b]) {
			revs = append(revs, fmt.Sprintf("10.0.%d.%d (%d nodes)", b, r, len(revisions[b][r])))
			names = append(names, revisions[b][r]...)
		}
		out = append(out, finding.Finding{
			Code: OSRevisionsMixed, Severity: finding.Warning, Nodes: names,
			Message: fmt.Sprintf("build %d runs at unequal patch levels: %s", b, strings.Join(revs, ", ")),
			Fix:     "roll the older nodes to the current AMI so every node has the same cumulative update",
		})
	}
	return out
}

// pinFindings flags nodes whose containerd ignores the pin label on images
// already present (before 1.7.10): warmed or baked images there are not
// protected from kubelet's image GC.
func pinFindings(nodes []inventory.Node) []finding.Finding {
	byVersion := map[string][]string{}
	for _, n := range nodes {
		if v, err := containerdversion.Parse(n.Containerd); err == nil && !containerdversion.PinsHonoured(v) {
			byVersion[v.String()] = append(byVersion[v.String()], n.Name)
		}
	}
	var out []finding.Finding
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		out = append(out, finding.Finding{
			Code: PinsNotHonoured, Severity: finding.Warning, Nodes: byVersion[v],
			Message: fmt.Sprintf("containerd %s ignores the pin label on images already present (honoured from %s): kubelet's image GC may remove warmed images", v, containerdversion.PinsFrom),
			Fix:     "roll these nodes to a current EKS-optimized Windows AMI (containerd 1.7.10 or later)",
		})
	}
	return out
}

func allNames(nodes []inventory.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	sort.Strings(out)
	return out
}

func flatten(m map[string][]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k]...)
	}
	return out
}

func sortedInts[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
