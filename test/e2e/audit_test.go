//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/skew"
	"github.com/winimage-io/kubectl-winimage/test/fleet"
)

const findingsFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [1Mi, 256Ki]}
  images:
  - {ref: apps/both:1, bases: [sc], layers: [64Ki, 16Ki], windows: [10.0.17763.6893, 10.0.20348.2582]}
  - {ref: apps/only2022:1, bases: [sc], layers: [32Ki], windows: [10.0.20348.2582]}
  - {ref: apps/only2025:1, bases: [sc], layers: [32Ki], windows: [10.0.26100.4061]}
nodeGroups:
- {name: ng-a, kind: managed, count: 2, windowsVersion: 10.0.20348.2582, ami: ami-0aaa, kubelet: v1.36.1-eks-1a2b3c4, cachedImages: [apps/both:1]}
- {name: ng-b, kind: managed, count: 1, windowsVersion: 10.0.20348.2340, ami: ami-0bbb, kubelet: v1.38.0-eks-1a2b3c4}
- {name: pool-2019, kind: karpenter, count: 1, windowsVersion: 10.0.17763.6893, kubelet: v1.33.5-eks-1a2b3c4, containerd: 1.7.9}
- {name: system, kind: managed, os: linux, count: 1, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
workloads:
- {name: both-a, replicas: 2, images: [apps/both:1], nodeGroup: ng-a}
- {name: both-2019, replicas: 1, images: [apps/both:1], nodeGroup: pool-2019}
- {name: wrong-build, replicas: 1, images: [apps/only2022:1], nodeGroup: pool-2019}
- {name: missing, replicas: 1, images: [apps/missing:1], nodeGroup: ng-b}
- {name: big-2025, replicas: 1, images: [apps/only2025:1], windowsBuild: 10.0.20348, cpu: "5000"}
- {name: linux-app, replicas: 1, os: linux, images: [apps/only2022:1]}
pullEvents:
- {image: apps/both:1, nodeGroup: ng-a, durations: [4m, 2m, 3m]}
- {image: apps/both:1, nodeGroup: system, durations: [1s]}
`

func TestAuditReportsEveryFindingAndRealSizes(t *testing.T) {
	r, applied := startRig(t, findingsFleet)
	ctx := context.Background()
	// A managed node group half way through a rolling update: one node on a
	// new AMI.
	rolled := applied.Nodes["ng-a"][1]
	patch := []byte(`{"metadata":{"labels":{"eks.amazonaws.com/nodegroup-image":"ami-0ccc"}}}`)
	if _, err := r.Client.CoreV1().Nodes().Patch(ctx, rolled, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	report := auditJSON(t, r.Kubeconfig)
	if report.ServerVersion != "v1.37.2" || len(report.Nodes) != 4 {
		t.Fatalf("server %s, %d nodes; want v1.37.2 and the 4 Windows nodes only", report.ServerVersion, len(report.Nodes))
	}
	got := findingsByCode(report)
	expect := func(code string, sev finding.Severity, nodes ...string) finding.Finding {
		t.Helper()
		fs := got[code]
		if len(fs) == 0 {
			t.Errorf("no %s finding", code)
			return finding.Finding{}
		}
		f := fs[0]
		if f.Severity != sev {
			t.Errorf("%s severity %s, want %s", code, f.Severity, sev)
		}
		if nodes != nil {
			sort.Strings(nodes)
			have := append([]string(nil), f.Nodes...)
			sort.Strings(have)
			if strings.Join(have, ",") != strings.Join(nodes, ",") {
				t.Errorf("%s nodes = %v, want %v", code, have, nodes)
			}
		}
		return f
	}
	ngA, ngB, pool := applied.Nodes["ng-a"], applied.Nodes["ng-b"], applied.Nodes["pool-2019"]
	phase(t, "skew and pin findings", func(t *testing.T) {
		allWin := append(append(append([]string{}, ngA...), ngB...), pool...)
		expect(skew.KubeletNewerThanAPIServer, finding.Error, ngB...)
		expect(skew.KubeletSkewUnsupported, finding.Error, pool...)
		expect(skew.KubeletBehindAPIServer, finding.Info, ngA...)
		expect(skew.KubeletVersionsMixed, finding.Warning, allWin...)
		expect(skew.AMIMixedInGroup, finding.Warning, ngA...)
		expect(skew.AMIMixedInCluster, finding.Warning, append(append([]string{}, ngA...), ngB...)...)
		expect(skew.AMIUnknown, finding.Info, pool...)
		expect(skew.OSBuildsMixed, finding.Info, allWin...)
		expect(skew.OSRevisionsMixed, finding.Warning, append(append([]string{}, ngA...), ngB...)...)
		expect(skew.PinsNotHonoured, finding.Warning, pool...)
	})

	phase(t, "compatibility and lookup findings", func(t *testing.T) {
		// Process isolation: only2022 running on the 2019 node, and the Pending
		// only2025 pod against every 20348 node it could land on.
		incompat := got[audit.ImageOSIncompatible]
		if len(incompat) != 3 {
			t.Fatalf("IMAGE_OS_INCOMPATIBLE findings = %+v, want 3 (one per image and host version)", incompat)
		}
		var running, pendingNodes []string
		for _, f := range incompat {
			if f.Severity != finding.Error || len(f.Pods) == 0 {
				t.Errorf("incompatible finding without pods or not an error: %+v", f)
			}
			switch {
			case strings.HasSuffix(f.Images[0], "/apps/only2022:1"):
				running = append(running, f.Nodes...)
				if !strings.Contains(f.Message, "10.0.17763.6893") || !strings.Contains(f.Message, "offers 10.0.20348.2582") || !strings.HasPrefix(f.Pods[0], "default/wrong-build-") {
					t.Errorf("running incompatibility message/pods: %+v", f)
				}
			case strings.HasSuffix(f.Images[0], "/apps/only2025:1"):
				pendingNodes = append(pendingNodes, f.Nodes...)
				if !strings.HasPrefix(f.Pods[0], "default/big-2025-") {
					t.Errorf("pending incompatibility pods: %+v", f)
				}
			}
		}
		if strings.Join(running, ",") != pool[0] {
			t.Errorf("running incompatibility on %v, want %v", running, pool)
		}
		sort.Strings(pendingNodes)
		want20348 := append(append([]string{}, ngA...), ngB...)
		sort.Strings(want20348)
		if strings.Join(pendingNodes, ",") != strings.Join(want20348, ",") {
			t.Errorf("pending incompatibility on %v, want every 20348 node %v", pendingNodes, want20348)
		}
		lookup := got[audit.ImageLookupFailed]
		if len(lookup) != 1 || !strings.Contains(lookup[0].Message, "404") || !strings.HasSuffix(lookup[0].Images[0], "/apps/missing:1") {
			t.Errorf("IMAGE_LOOKUP_FAILED = %+v, want the missing image with a 404 reason", lookup)
		}
	})

	phase(t, "sizes, sharing and cache coverage", func(t *testing.T) {
		// Sizes are the registry's for the entry each node's containerd picks.
		both := imageByRef(report, applied.Ref("apps/both:1"))
		if both == nil {
			t.Fatal("apps/both:1 not reported")
		}
		_, e2019, _ := applied.Catalog.Entry("apps/both:1", "windows", "17763")
		_, e2022, _ := applied.Catalog.Entry("apps/both:1", "windows", "20348")
		sizes := map[string]int64{}
		for _, p := range both.Platforms {
			sizes[p.NodeOSVersion] = p.Size
			if p.Layers != 4 || !p.Runnable {
				t.Errorf("both:1 on %s: %d layers runnable=%v", p.NodeOSVersion, p.Layers, p.Runnable)
			}
		}
		if sizes["10.0.17763.6893"] != e2019.Size || sizes["10.0.20348.2582"] != e2022.Size {
			t.Errorf("both:1 sizes = %v, want 17763=%d 20348=%d", sizes, e2019.Size, e2022.Size)
		}
		pods, err := r.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: fleet.WorkloadLabel + " in (both-a,both-2019)"})
		if err != nil {
			t.Fatal(err)
		}
		nodesRunning := map[string]bool{}
		for _, p := range pods.Items {
			nodesRunning[p.Spec.NodeName] = true
		}
		cached := 0
		for _, n := range ngA {
			if nodesRunning[n] {
				cached++
			}
		}
		if both.Pods != 3 || both.Nodes != len(nodesRunning) || both.CachedOn != cached || both.OnNodeBytes != e2022.Size {
			t.Errorf("both:1 pods=%d nodes=%d cached=%d onNode=%d; want 3, %d, %d, %d", both.Pods, both.Nodes, both.CachedOn, both.OnNodeBytes, len(nodesRunning), cached, e2022.Size)
		}
		// only2022 shares the servercore base layers with both:1 on 20348...
		// but it only runs on the 2019 node, so no runnable entry there.
		if img := imageByRef(report, applied.Ref("apps/only2022:1")); img == nil || img.Platforms[0].Runnable {
			t.Errorf("only2022 on the 2019 node reported runnable: %+v", img)
		}
		for _, p := range both.Platforms {
			if p.NodeOSVersion == "10.0.17763.6893" && p.SharedBytes != 0 {
				t.Errorf("both:1 on 17763 shares %d bytes with nothing else on that build", p.SharedBytes)
			}
		}

		// Pull times: the three ng-a pulls (the Linux node is not audited).
		if len(report.Pulls) != 1 {
			t.Fatalf("pulls = %+v, want only apps/both:1 on Windows nodes", report.Pulls)
		}
		p := report.Pulls[0]
		if p.Count != 3 || p.Median != 3*time.Minute || p.Max != 4*time.Minute || p.BytesPerSecond != e2022.Size/180 {
			t.Errorf("pull stats = %+v", p)
		}
		if report.Summary.Errors != len(got[skew.KubeletNewerThanAPIServer])+len(got[skew.KubeletSkewUnsupported])+3 {
			t.Errorf("summary errors = %d", report.Summary.Errors)
		}
	})
}

// The process exit codes of --fail-on against a real fleet, the table's
// sections and --no-registry.
func TestAuditExitCodesAndOutput(t *testing.T) {
	r, _ := startRig(t, findingsFleet)
	if _, _, code := runPlugin(t, r.Kubeconfig, "audit", "--fail-on=none"); code != 0 {
		t.Errorf("--fail-on=none exited %d", code)
	}
	if out, stderr, code := runPlugin(t, r.Kubeconfig, "audit", "--fail-on=error", "-o", "yaml"); code != 3 || !strings.Contains(out, "kind: AuditReport") || !strings.Contains(stderr, "findings at or above error") {
		t.Errorf("--fail-on=error: exit %d, stderr %q", code, stderr)
	}
	// --sections nodes has only skew findings, whose worst is an error too;
	// a selector with no nodes has none at all.
	if _, _, code := runPlugin(t, r.Kubeconfig, "audit", "--fail-on=info", "-l", "kubernetes.io/os=plan9"); code != 0 {
		t.Errorf("no nodes, --fail-on=info exited %d", code)
	}
	// Bad flags are refused before any request: plugin/cmd's
	// TestBadInputExitsOneWithOneLineBeforeAnyRequest, without a rig.
	// Table output has every section.
	out, _, _ := runPlugin(t, r.Kubeconfig, "audit")
	for _, title := range []string{"NODES", "FINDINGS", "IMAGES", "OBSERVED PULLS", "errors,"} {
		if !strings.Contains(out, title) {
			t.Errorf("table output lacks %q:\n%s", title, out)
		}
	}
	// --no-registry says what it skipped and checks no images.
	rep := auditJSON(t, r.Kubeconfig, "--no-registry")
	if len(rep.Skipped) == 0 || !strings.Contains(rep.Skipped[0], "--no-registry") {
		t.Errorf("--no-registry skipped = %v", rep.Skipped)
	}
	if len(findingsByCode(rep)[audit.ImageOSIncompatible]) != 0 {
		t.Error("--no-registry still checked OS compatibility")
	}
	if b, _ := json.Marshal(rep.Images); strings.Contains(string(b), `"size"`) {
		t.Errorf("--no-registry reported sizes: %s", b)
	}
}
