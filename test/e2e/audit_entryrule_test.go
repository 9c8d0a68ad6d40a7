//go:build linux

package e2e

import (
	"strings"
	"testing"
)

// Two Windows Server 2022 node groups of the same OS version, one on an
// AMI with containerd 1.7 and one with 2.1, and an image whose index has
// two entries both match them, the older revision first. containerd 1.7's
// CRI runs the first match, 2.1's the highest os.version: the audit must
// size (and judge) each group by the entry its own containerd runs.
const entryRuleFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: apps/two-revisions:1, layers: [64Ki], windows: [10.0.20348.1000, 10.0.20348.2582]}
nodeGroups:
- {name: ng-133, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0133, kubelet: v1.33.5-eks-1a2b3c4, containerd: 1.7.27}
- {name: ng-134, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0134, kubelet: v1.34.2-eks-1a2b3c4, containerd: 2.1.4}
workloads:
- {name: on-133, replicas: 1, images: [apps/two-revisions:1], nodeGroup: ng-133}
- {name: on-134, replicas: 2, images: [apps/two-revisions:1], nodeGroup: ng-134}
`

func TestAuditSizesEachNodeByTheEntryItsContainerdRuns(t *testing.T) {
	r, applied := startRig(t, entryRuleFleet)
	ref := applied.Ref("apps/two-revisions:1")
	rep := auditJSON(t, r.Kubeconfig)
	img := imageByRef(rep, ref)
	if img == nil {
		t.Fatalf("%s not in the report", ref)
	}
	got := map[string]string{}
	pods := map[string]int{}
	for _, p := range img.Platforms {
		if p.NodeOSVersion != "10.0.20348.2582" {
			t.Errorf("unexpected row %+v", p)
		}
		line := "2.x"
		if strings.Contains(p.EntryRule, "1.x") {
			line = "1.x"
		}
		got[line] = p.EntryOSVersion
		pods[line] = p.Pods
	}
	if got["1.x"] != "10.0.20348.1000" || got["2.x"] != "10.0.20348.2582" {
		t.Errorf("entries by containerd line: %v (want 1.x: 10.0.20348.1000, the first match; 2.x: 10.0.20348.2582, the highest)", got)
	}
	if pods["1.x"] != 1 || pods["2.x"] != 2 {
		t.Errorf("pods by containerd line: %v", pods)
	}
	out, _, code := runPlugin(t, r.Kubeconfig, "audit", "--sections", "images")
	if code != 0 && code != 1 {
		t.Fatalf("audit table exit %d", code)
	}
	if !strings.Contains(out, "10.0.20348.2582 (first matching entry (containerd 1.x))") {
		t.Errorf("the table does not tell the two rows apart:\n%s", out)
	}
}
