package startup

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/finding"
)

// PullBound is raised for a group whose slow pod starts are mostly image
// pulls.
const PullBound = "STARTUP_PULL_BOUND"

// pullBoundFloor: below it a p95 start is not worth a finding.
const pullBoundFloor = 30 * time.Second

// Findings flags each group and build whose p95 pod start is at least
// pullBoundFloor and at least half of it pulling, over the newest period
// the section has (since the warm list, on baked AMIs, else all pods),
// with the images that cost the most pull time there.
func Findings(s Section) []finding.Finding {
	newest := map[rowKey]Row{}
	for _, r := range s.Rows {
		if r.Pulling.Count == 0 {
			continue
		}
		k := rowKey{r.Group, r.Build, ""}
		if cur, ok := newest[k]; !ok || newer(r.Period, cur.Period) {
			newest[k] = r
		}
	}
	var out []finding.Finding
	for _, r := range newest {
		if r.PodStart.P95 < pullBoundFloor || 2*r.Pulling.P95 < r.PodStart.P95 {
			continue
		}
		images := costliest(r.pullTime, 3)
		var costs []string
		for _, img := range images {
			costs = append(costs, fmt.Sprintf("%s (%s pulling)", img, r.pullTime[img].Round(time.Second)))
		}
		nodes := make([]string, 0, len(r.nodes))
		for n := range r.nodes {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		out = append(out, finding.Finding{Code: PullBound, Severity: finding.Warning, Images: images, Nodes: nodes,
			Message: fmt.Sprintf("group %s (build %d, %s): p95 pod start %s, of which %s pulling images (p95 over %d pods); most pull time: %s",
				orNone(r.Group), r.Build, r.Period, r.PodStart.P95.Round(time.Second), r.Pulling.P95.Round(time.Second), r.Pulling.Count, strings.Join(costs, ", ")),
			Fix: "warm these images on the group's nodes (kubectl winimage warm), or bake them into the AMI (kubectl winimage bake ranks them by observed pull time)"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out
}

// newer: a split period beats "all"; after-the-change beats before it.
func newer(a, b string) bool {
	rank := map[string]int{PeriodAll: 0, PeriodBeforeWarm: 1, PeriodOtherAMI: 1, PeriodSinceWarm: 2, PeriodBakedAMI: 3}
	return rank[a] > rank[b]
}

func costliest(times map[string]time.Duration, n int) []string {
	var images []string
	for img, d := range times {
		if d > 0 {
			images = append(images, img)
		}
	}
	sort.Slice(images, func(i, j int) bool {
		if times[images[i]] != times[images[j]] {
			return times[images[i]] > times[images[j]]
		}
		return images[i] < images[j]
	})
	return images[:min(n, len(images))]
}

func orNone(group string) string {
	if group == "" {
		return "(none)"
	}
	return group
}
