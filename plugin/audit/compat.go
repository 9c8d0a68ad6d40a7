package audit

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
)

// incompatibilities gathers, per (image, node OS version), the nodes and
// pods where the image has no entry that runs, for one finding each.
type incompatibilities map[string]*incompatibility

type incompatibility struct {
	nodes, pods map[string]bool
	available   []string
}

func (ic incompatibilities) add(ref, hostVersion, node string, pods []string, img *imagesize.Image) {
	key := ref + "\x00" + hostVersion
	i := ic[key]
	if i == nil {
		i = &incompatibility{nodes: map[string]bool{}, pods: map[string]bool{}, available: img.OSVersions()}
		ic[key] = i
	}
	if node != "" {
		i.nodes[node] = true
	}
	for _, p := range pods {
		i.pods[p] = true
	}
}

func (ic incompatibilities) findings() []finding.Finding {
	var out []finding.Finding
	for _, key := range slices.Sorted(maps.Keys(ic)) {
		i := ic[key]
		ref, hostVersion, _ := strings.Cut(key, "\x00")
		out = append(out, finding.Finding{
			Code: ImageOSIncompatible, Severity: finding.Error,
			Nodes: slices.Sorted(maps.Keys(i.nodes)), Pods: slices.Sorted(maps.Keys(i.pods)), Images: []string{ref},
			Message: fmt.Sprintf("%s has no entry that runs on Windows %s under process isolation (it offers %s)", ref, hostVersion, orNone(i.available)),
			Fix:     "build and push the image for this Windows build (a multi-platform index), or pin the pods to nodes of a build it has",
		})
	}
	return out
}
