package bake

import (
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

func TestScaleOutIsTheBusiestHour(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var nodes []*inventory.Node
	for _, m := range []int{0, 10, 50, 59, 61, 200, 205, 210, 215, 220} {
		nodes = append(nodes, &inventory.Node{Created: t0.Add(time.Duration(m) * time.Minute), Zone: "us-west-2c"})
	}
	if n := scaleOut(nodes, time.Hour); n != 5 {
		t.Errorf("busiest hour: %d, want 5 (minutes 200–220)", n)
	}
	l := LaunchFor(&BuildPlan{Build: 20348, WindowsServer: "2022"}, nodes, "1.36")
	if l.FastLaunch.SnapshotCount != 5 || l.FastLaunch.MaxParallelLaunches != 6 || l.FastLaunch.Region != "us-west-2" {
		t.Errorf("fast launch %+v", l.FastLaunch)
	}
	if l.BaseAMIParameter != "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.36/image_id" {
		t.Error(l.BaseAMIParameter)
	}
}

func TestLaunchAdviceForAManagedNodeGroupAndFastLaunch(t *testing.T) {
	nodes := []*inventory.Node{{Name: "n1", Group: "ng-win", GroupKind: "managed", Zone: "us-east-2a"}}
	l := LaunchFor(&BuildPlan{Build: 20348, WindowsServer: "2022"}, nodes, "1.33")
	for _, want := range []string{
		"create a new node group",                            // amiType groups cannot take an ImageId
		`C:\Program Files\Amazon\EKS\Start-EKSBootstrap.ps1`, // EKS adds no user data to a custom AMI
		"--node-labels=eks.amazonaws.com/nodegroup=ng-win-warm,eks.amazonaws.com/nodegroup-image=" + NewAMI,
		"EC2_WINDOWS", // the access entry type for Windows nodes
		"aws eks update-nodegroup-version --cluster-name CLUSTER --nodegroup-name ng-win-warm --launch-template id=LAUNCH_TEMPLATE,version=", // the only way to a new AMI
		"not a resolve:ssm:", // EKS's node-group role cannot read SSM parameters
	} {
		if !strings.Contains(l.NodeGroup, want) {
			t.Errorf("node group advice lacks %q:\n%s", want, l.NodeGroup)
		}
	}
	for _, want := range []string{"launch template or a default VPC", "sysprep", "VolumeInitializationRate", "Fast Snapshot Restore"} {
		if !strings.Contains(l.FastLaunch.Note, want) {
			t.Errorf("Fast Launch note lacks %q:\n%s", want, l.FastLaunch.Note)
		}
	}
}

// The builds of a plan share the Region's Fast Launch parallel launches:
// three builds that each planned 30 get 13 each, said in a note; one
// build keeps what it planned.
func TestBuildsShareTheRegionsFastLaunchQuota(t *testing.T) {
	planWith := func(builds int) *Plan {
		p := &Plan{}
		for i := range builds {
			fl := FastLaunch{SnapshotCount: 30, MaxParallelLaunches: 30, Command: []string{"aws", "ec2", "enable-fast-launch", "--max-parallel-launches", "30"}}
			p.Builds = append(p.Builds, BuildPlan{Build: 20348 + i, Launch: Launch{FastLaunch: fl}})
		}
		return p
	}
	p := planWith(3)
	p.shareParallelLaunches()
	total := 0
	for _, bp := range p.Builds {
		total += bp.Launch.FastLaunch.MaxParallelLaunches
		if bp.Launch.FastLaunch.MaxParallelLaunches != 13 || bp.Launch.FastLaunch.Command[4] != "13" {
			t.Errorf("build %d: %+v", bp.Build, bp.Launch.FastLaunch)
		}
	}
	if total > RegionParallelLaunches || len(p.Notes) != 3 || !strings.Contains(p.Notes[0], "cut from 30 to 13") {
		t.Errorf("total %d, notes %q", total, p.Notes)
	}
	one := planWith(1)
	one.shareParallelLaunches()
	if one.Builds[0].Launch.FastLaunch.MaxParallelLaunches != 30 || len(one.Notes) != 0 {
		t.Errorf("one build: %+v %q", one.Builds[0].Launch.FastLaunch, one.Notes)
	}
}

// Every launch that reads the AMI's snapshot fills its root volume ahead
// of reads: the launch template and the EC2NodeClass say the rate; the
// recipe, which builds the AMI from an empty volume, does not.
func TestLaunchAdviceFillsTheRootVolumeAhead(t *testing.T) {
	bp := &BuildPlan{Build: 20348, WindowsServer: "2022"}
	bp.Disk.RootVolume = RootVolume{DeviceName: "/dev/sda1", SizeGiB: 120, VolumeType: "gp3"}
	v := LaunchFor(bp, nil, "1.33").RootVolume
	if v.LaunchTemplate.Ebs.VolumeInitializationRate != VolumeInitializationRate || v.EC2NodeClass.EBS.VolumeInitializationRate != VolumeInitializationRate ||
		v.ImageBuilderRecipe.Ebs.VolumeInitializationRate != 0 {
		t.Errorf("root volume mappings %+v", v)
	}
}
