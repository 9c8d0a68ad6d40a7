//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/startup"
	"github.com/winimage-io/kubectl-winimage/test/fleet"
)

const bakedAMI = "ami-0b1a2e3d4c5f60718"

// Pods on ng pulled for minutes two days ago (one's events expired); the
// baked group's pods found the image present half an hour ago.
const startupFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: shop/web:1, layers: [64Ki], windows: [10.0.20348.2582]}
nodeGroups:
- {name: ng, kind: managed, count: 2, windowsVersion: 10.0.20348.2582, ami: ami-0a1b2c3d4e5f60718, kubelet: v1.37.2-eks-1a2b3c4, readyAfter: 3m}
- {name: baked, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ` + bakedAMI + `, kubelet: v1.37.2-eks-1a2b3c4, readyAfter: 2m}
startHistory:
- nodeGroup: ng
  image: shop/web:1
  ago: 48h
  starts:
  - {pulling: 6m, rest: 30s}
  - {pulling: 4m, rest: 1m}
  - {pulling: 9m, rest: 20s}
  - {pulling: 5m, rest: 10s, noEvents: true}
- nodeGroup: baked
  image: shop/web:1
  ago: 30m
  starts:
  - {rest: 15s}
  - {rest: 25s}
`

func startupRows(t *testing.T, r *audit.Report) map[string]startup.Row {
	t.Helper()
	if r.Startup == nil {
		t.Fatal("no startup section")
	}
	rows := map[string]startup.Row{}
	for _, row := range r.Startup.Rows {
		rows[row.Group+"/"+row.Period] = row
	}
	return rows
}

func durs(count int, p50, p95, maxD time.Duration) startup.Durations {
	return startup.Durations{Count: count, P50: p50, P95: p95, Max: maxD}
}

func TestAuditStartupBeforeAndAfterWarmingAndBaking(t *testing.T) {
	r, applied := startRig(t, startupFleet)
	s, m := time.Second, time.Minute
	rep := auditJSON(t, r.Kubeconfig, "-n", "default", "--no-registry", "--baked-ami", bakedAMI)
	rows := startupRows(t, rep)
	ng := rows["ng/all"]
	// Starts 6m30s, 5m, 9m20s, 5m10s: sorted 5m, 5m10s, 6m30s, 9m20s; p50
	// is rank 2, p95 rank 4. Pulling only for the three with events.
	if ng.NodeReady != durs(2, 3*m, 3*m, 3*m) || ng.PodStart != durs(4, 5*m+10*s, 9*m+20*s, 9*m+20*s) ||
		ng.Pulling != durs(3, 6*m, 9*m, 9*m) || ng.Rest != durs(3, 30*s, m, m) {
		t.Errorf("ng/all: %+v", ng)
	}
	if ng.MissingEvents != 1 || ng.ImageUses != 3 || ng.Present != 0 {
		t.Errorf("ng/all: the expired pod is missing, never guessed: %+v", ng)
	}
	if other := rows["ng/"+startup.PeriodOtherAMI]; other.PodStart != ng.PodStart {
		t.Errorf("ng is on other AMIs: %+v", other)
	}
	baked := rows["baked/"+startup.PeriodBakedAMI]
	if baked.NodeReady != durs(1, 2*m, 2*m, 2*m) || baked.PodStart != durs(2, 15*s, 25*s, 25*s) || baked.Pulling != durs(2, 0, 0, 0) || baked.Present != 2 {
		t.Errorf("baked/baked-amis: %+v", baked)
	}
	if rep.Startup.WarmListChanged != nil {
		t.Errorf("no warm list yet, but changed at %v", rep.Startup.WarmListChanged)
	}
	bound := findingsByCode(rep)[startup.PullBound]
	if len(bound) != 1 || !strings.Contains(bound[0].Message, "group ng (build 20348, other-amis): p95 pod start 9m20s, of which 9m0s pulling") ||
		!strings.Contains(bound[0].Message, "19m0s pulling") || len(bound[0].Images) != 1 || len(bound[0].Nodes) != 2 {
		t.Fatalf("%s: %+v", startup.PullBound, bound)
	}

	// Warm the image on ng, then a pod starts there and finds it present.
	warmArgs := []string{"warm", "--daemon-image", "r.example/winimage-daemon:e2e", "-l", "eks.amazonaws.com/nodegroup=ng", applied.Ref("shop/web:1")}
	if _, stderr, code := runPlugin(t, r.Kubeconfig, warmArgs...); code != 0 {
		t.Fatalf("warm: %d %s", code, stderr)
	}
	changed := auditJSON(t, r.Kubeconfig, "-n", "default", "--no-registry", "--sections", "startup").Startup.WarmListChanged
	if changed == nil || time.Since(*changed) > time.Minute {
		t.Fatalf("warm list change time = %v", changed)
	}
	time.Sleep(1100 * time.Millisecond) // managedFields times have whole seconds
	if _, stderr, code := runPlugin(t, r.Kubeconfig, warmArgs...); code != 0 {
		t.Fatalf("warm again: %d %s", code, stderr)
	}
	after := fleet.StartHistory{NodeGroup: "ng", Image: "shop/web:1", Ago: "0s", Starts: []fleet.Start{{Rest: "12s"}}}
	if err := fleet.ApplyHistory(context.Background(), r.Client, applied, 9, after); err != nil {
		t.Fatal(err)
	}
	rep = auditJSON(t, r.Kubeconfig, "-n", "default", "--no-registry", "--sections", "startup,findings")
	if rep.Startup.WarmListChanged == nil || !rep.Startup.WarmListChanged.Equal(*changed) {
		t.Errorf("the same list applied again moved the change time: %v, then %v", changed, rep.Startup.WarmListChanged)
	}
	rows = startupRows(t, rep)
	before, since := rows["ng/"+startup.PeriodBeforeWarm], rows["ng/"+startup.PeriodSinceWarm]
	if before.PodStart != durs(4, 5*m+10*s, 9*m+20*s, 9*m+20*s) || before.WarmListFirstUses != 2 || before.WarmListPresent != 0 {
		t.Errorf("ng before the warm list: %+v", before)
	}
	if since.PodStart != durs(1, 12*s, 12*s, 12*s) || since.Pulling != durs(1, 0, 0, 0) || since.Present != 1 || since.ImageUses != 1 {
		t.Errorf("ng since the warm list: %+v", since)
	}
	if b := rows["baked/"+startup.PeriodBeforeWarm]; b.WarmListFirstUses != 1 || b.WarmListPresent != 1 {
		t.Errorf("baked: first use found the image present: %+v", b)
	}
	if bound := findingsByCode(rep)[startup.PullBound]; len(bound) != 0 {
		t.Errorf("since the warm list ng's pods start in 12s, yet: %+v", bound)
	}

	out, _, code := runPlugin(t, r.Kubeconfig, "audit", "-n", "default", "--no-registry", "--sections", "startup", "-o", "wide")
	if code != 0 || !strings.Contains(out, "STARTUP (since ") || !strings.Contains(out, "warm list changed") ||
		!strings.Contains(out, "since-warm-list") || !strings.Contains(out, "5m10s/9m20s") || !strings.Contains(out, "NO EVENTS") {
		t.Errorf("table:\n%s", out)
	}
	if _, stderr, code := runPlugin(t, r.Kubeconfig, "audit", "--since", "0s"); code == 0 || !strings.Contains(stderr, "--since must be positive") {
		t.Errorf("--since 0s: %d %s", code, stderr)
	}
	if _, stderr, code := runPlugin(t, r.Kubeconfig, "audit", "--baked-ami", "ami-zz"); code == 0 || !strings.Contains(stderr, "not an AMI id") {
		t.Errorf("--baked-ami ami-zz: %d %s", code, stderr)
	}
}
