//go:build linux

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// The budget comes from the nodes' real disks, scaled down to the rig's
// image sizes: the smaller group's root volume is 40 MiB (ephemeral-storage),
// and kubelet's stats summary on its nodes shows 36 MiB used of which 6 MiB
// are images, so 30 MiB of base use. The pinned images may take half of
// what is left under the 85% GC threshold at 3.2× their compressed size
// (2.2× extracted, plus the compressed blobs ctr keeps):
// (34 − 30) MiB × 50% ÷ 3.2 ≈ 0.6 MiB. small (512 KiB) fits, large (1 MiB)
// does not, and the plan says which volume would hold both.
const bakeDiskFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: apps/small:1, layers: [512Ki], windows: [10.0.20348.2582]}
  - {ref: apps/large:1, layers: [1Mi], windows: [10.0.20348.2582]}
nodeGroups:
- name: ng-small
  kind: managed
  count: 2
  windowsVersion: 10.0.20348.2582
  ami: ami-0d15c0000000001
  kubelet: v1.37.2-eks-1a2b3c4
  ephemeralStorage: 40Mi
  kubeletEndpoint: {rootUsed: 36Mi, imagesUsed: 6Mi}
- {name: ng-big, kind: karpenter, count: 1, windowsVersion: 10.0.20348.2582, kubelet: v1.37.2-eks-1a2b3c4, ephemeralStorage: 100Mi}
workloads:
- {name: small, replicas: 2, images: [apps/small:1], nodeGroup: ng-small}
- {name: large, replicas: 1, images: [apps/large:1], nodeGroup: ng-small}
`

func TestBakeSizesTheBudgetFromTheNodesDisks(t *testing.T) {
	r, applied := startRig(t, bakeDiskFleet)
	bakePlan := func(t *testing.T, args ...string) *bake.BuildPlan {
		t.Helper()
		out, stderr, code := runPlugin(t, r.Kubeconfig, append([]string{"bake", "--ami-cached", "none", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("bake %v: exit %d\n%s", args, code, stderr)
		}
		var plan bake.Plan
		if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Builds) != 1 {
			t.Fatalf("%v\n%s", err, out)
		}
		return &plan.Builds[0]
	}
	chosen := func(bp *bake.BuildPlan) map[string]bool {
		m := map[string]bool{}
		for _, c := range bp.Images {
			m[strings.TrimPrefix(c.Ref, applied.RegistryHost+"/")] = c.Chosen
		}
		return m
	}
	phase(t, "measured base use, smallest volume", func(t *testing.T) {
		bp := bakePlan(t, "--node-stats")
		d := bp.Disk
		if d.VolumeBytes != 40<<20 || !strings.Contains(d.VolumeSource, "smallest ephemeral-storage capacity of 3 nodes") {
			t.Errorf("volume %d from %q", d.VolumeBytes, d.VolumeSource)
		}
		if d.BaseUsageBytes != 30<<20 || !strings.Contains(d.BaseUsageSource, "measured on") {
			t.Errorf("base use %d from %q", d.BaseUsageBytes, d.BaseUsageSource)
		}
		if room := 0.85*40 - 30.0; d.BudgetBytes != int64(room*(1<<20)*0.5/3.2) {
			t.Errorf("budget %d, want %.0f", d.BudgetBytes, room*(1<<20)*0.5/3.2)
		}
		if c := chosen(bp); !c["apps/small:1"] || c["apps/large:1"] {
			t.Errorf("chosen %v: want small only", c)
		}
		if d.WantedVolumeGiB == 0 {
			t.Error("no volume given for what the budget left out")
		}
		rv := bp.Launch.RootVolume
		// The launch template's volume is the recipe's, filled ahead of
		// reads from the AMI's snapshot.
		launch := rv.LaunchTemplate
		launch.Ebs.VolumeInitializationRate = 0
		if rv.ImageBuilderRecipe.DeviceName != "/dev/sda1" || rv.ImageBuilderRecipe.Ebs.VolumeSize != 1 || launch != rv.ImageBuilderRecipe || rv.LaunchTemplate.Ebs.VolumeInitializationRate == 0 ||
			rv.EC2NodeClass.EBS.VolumeSize != "1Gi" || !rv.EC2NodeClass.RootVolume {
			t.Errorf("root volume mappings: %+v", rv)
		}
	})
	phase(t, "unmeasured base use is assumed and said so", func(t *testing.T) {
		bp := bakePlan(t)
		if !strings.HasPrefix(bp.Disk.BaseUsageSource, "assumed") || bp.Disk.BudgetBytes != 0 {
			t.Errorf("without --node-stats: %+v", bp.Disk)
		}
		if c := chosen(bp); c["apps/small:1"] || c["apps/large:1"] {
			t.Errorf("a 40 MiB volume with 25 GiB assumed in use holds nothing, yet chosen %v", c)
		}
	})
	phase(t, "overrides", func(t *testing.T) {
		bp := bakePlan(t, "--volume", "100Mi", "--base-usage", "30Mi")
		if c := chosen(bp); !c["apps/small:1"] || !c["apps/large:1"] || bp.Disk.RootVolume.SizeGiB != 1 {
			t.Errorf("--volume 100Mi: chosen %v, %+v", c, bp.Disk)
		}
		if bp = bakePlan(t, "--max-bytes", "10Mi"); bp.Disk.BudgetSource != "--max-bytes" || !chosen(bp)["apps/large:1"] {
			t.Errorf("--max-bytes: %+v", bp.Disk)
		}
	})
	phase(t, "the table says where the volume must be set", func(t *testing.T) {
		out, _, code := runPlugin(t, r.Kubeconfig, "bake", "--ami-cached", "none", "--node-stats")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"disk: budget", "measured on", "rerun with --volume", "DeviceName=/dev/sda1,Ebs={VolumeSize=1,VolumeType=gp3", "blockDeviceMappings: [{deviceName: /dev/sda1, rootVolume: true, ebs: {volumeSize: 1Gi"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
	})
	phase(t, "bad sizes are refused", func(t *testing.T) {
		for _, args := range [][]string{{"--volume", "big"}, {"--base-usage", "-1Gi"}, {"--on-disk-ratio", "0.5"}} {
			if _, stderr, code := runPlugin(t, r.Kubeconfig, append([]string{"bake"}, args...)...); code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("bake %v: exit %d, %q", args, code, stderr)
			}
		}
	})
}
