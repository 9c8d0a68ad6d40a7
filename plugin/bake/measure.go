package bake

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/kubeletapi"
)

// measuredPerBuild is how many of a build's newest nodes are asked for
// their disk use: enough to see the AMI and what its nodes keep, few enough
// for a fleet of thousands.
const measuredPerBuild = 3

// MeasureBaseUsage reads kubelet's stats summary of the newest Windows
// nodes of each build through the API server proxy (needs nodes/proxy) and
// returns each one's non-image disk use: node fs used − image fs used. A
// node that cannot be read gives a note, never an error: the plan then
// falls back to the assumed base use and says so.
func MeasureBaseUsage(ctx context.Context, client kubernetes.Interface, r *audit.Report) (map[string]int64, []string) {
	byBuild := map[int][]int{}
	for i, n := range r.Nodes {
		if n.OS == "windows" && n.Build != 0 {
			byBuild[n.Build] = append(byBuild[n.Build], i)
		}
	}
	used := map[string]int64{}
	var notes []string
	for _, idx := range byBuild {
		sort.Slice(idx, func(a, b int) bool { return r.Nodes[idx[a]].Created.After(r.Nodes[idx[b]].Created) })
		for _, i := range idx[:min(len(idx), measuredPerBuild)] {
			name := r.Nodes[i].Name
			s, err := kubeletapi.Summary(ctx, client, name)
			if err != nil {
				notes = append(notes, fmt.Sprintf("base disk use not measured: %v", err))
				continue
			}
			if s.Node.Fs == nil || s.Node.Fs.UsedBytes == nil {
				notes = append(notes, fmt.Sprintf("base disk use not measured: node %s reports no file system use", name))
				continue
			}
			base := int64(*s.Node.Fs.UsedBytes)
			if s.Node.Runtime != nil && s.Node.Runtime.ImageFs != nil && s.Node.Runtime.ImageFs.UsedBytes != nil {
				base -= int64(*s.Node.Runtime.ImageFs.UsedBytes)
			}
			used[name] = max(base, 0)
		}
	}
	sort.Strings(notes)
	return used, notes
}
