//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

const stalledRegistryFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [256Ki]}
  images:
  - {ref: apps/good:1, bases: [sc], layers: [16Ki], windows: [10.0.20348.2582]}
  - {ref: apps/stalled:1, bases: [sc], layers: [16Ki], windows: [10.0.20348.2582]}
  - {ref: apps/trickled:1, bases: [sc], layers: [16Ki], windows: [10.0.20348.2582]}
nodeGroups:
- {name: ng, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0aaa, kubelet: v1.37.2-eks-1a2b3c4}
workloads:
- {name: good, replicas: 1, images: [apps/good:1], nodeGroup: ng}
- {name: stalled, replicas: 1, images: [apps/stalled:1], nodeGroup: ng}
- {name: trickled, replicas: 1, images: [apps/trickled:1], nodeGroup: ng}
`

// A registry that accepts the connection and sends nothing, and one that
// sends a byte every few seconds: audit bounds each lookup by
// --request-timeout and finishes, those images under IMAGE_LOOKUP_FAILED
// saying so, the good one sized.
func TestAuditFinishesWhenARegistryStallsOrTrickles(t *testing.T) {
	r, applied := startRig(t, stalledRegistryFleet)
	host := r.Registry.Host()
	r.Registry.InjectFault("/v2/apps/stalled/manifests/1", rig.Fault{Stall: true})
	r.Registry.InjectFault("/v2/apps/trickled/manifests/1", rig.Fault{Trickle: 3 * time.Second})

	// A hang fails here, not at the suite's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pluginBinary(t), "--kubeconfig", r.Kubeconfig, "--request-timeout", "2s", "audit", "-o", "json")
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatal("audit did not finish against a stalled registry")
	}
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var report audit.Report
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, f := range findingsByCode(&report)[audit.ImageLookupFailed] {
		for _, img := range f.Images {
			failed[img] = f.Message
		}
	}
	for _, ref := range []string{applied.Ref("apps/stalled:1"), applied.Ref("apps/trickled:1")} {
		if msg, ok := failed[ref]; !ok || !strings.Contains(msg, "no answer from the registry within 2s") {
			t.Errorf("%s: IMAGE_LOOKUP_FAILED %v %q", ref, ok, msg)
		}
	}
	if img := imageByRef(&report, applied.Ref("apps/good:1")); img == nil || len(failed) != 2 {
		t.Errorf("the good image beside them: %+v; failed %v (registry %s)", img, failed, host)
	}
}
