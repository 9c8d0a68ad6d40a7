package bake

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// NewAMI stands for the id of the AMI Image Builder will produce.
const NewAMI = "NEW_AMI_ID"

// Launch is how to get and use the AMI.
type Launch struct {
	// BaseAMIParameter is the SSM public parameter of the EKS-optimized AMI
	// to build on (the Image Builder recipe's parent image).
	BaseAMIParameter string   `json:"baseAMIParameter,omitempty"`
	BaseAMICommand   []string `json:"baseAMICommand,omitempty"`
	// ScaleOutPerHour is the most nodes of the build created within one
	// hour, from the nodes' creation times.
	ScaleOutPerHour int        `json:"scaleOutPerHour"`
	FastLaunch      FastLaunch `json:"fastLaunch"`
	NodeGroup       string     `json:"managedNodeGroup"`
	Karpenter       Karpenter  `json:"karpenter"`
	// RootVolume is the volume the plan was sized for, in the form of each
	// place that sets it: the recipe's mapping makes it the AMI's root
	// volume, the default of a launch that does not say otherwise; a launch
	// template or EC2NodeClass that names the root device overrides it, so
	// it must say the same.
	RootVolume RootVolumeMappings `json:"rootVolume"`
}

// RootVolumeMappings is one root volume as the Image Builder recipe
// (BlockDeviceMappings), an EC2 launch template (BlockDeviceMappings) and a
// Karpenter EC2NodeClass (spec.blockDeviceMappings) spell it.
type RootVolumeMappings struct {
	ImageBuilderRecipe AWSBlockDevice `json:"imageBuilderRecipe"`
	LaunchTemplate     AWSBlockDevice `json:"launchTemplate"`
	EC2NodeClass       KarpenterBlock `json:"ec2NodeClass"`
}

// AWSBlockDevice is a BlockDeviceMapping in the EC2 and Image Builder APIs.
type AWSBlockDevice struct {
	DeviceName string `json:"DeviceName"`
	Ebs        AWSEbs `json:"Ebs"`
}

// AWSEbs is its EBS part.
type AWSEbs struct {
	VolumeSize          int    `json:"VolumeSize"`
	VolumeType          string `json:"VolumeType"`
	DeleteOnTermination bool   `json:"DeleteOnTermination"`
	// VolumeInitializationRate (MiB/s) fills a volume made from the AMI's
	// snapshot ahead of reads: launches only, not the recipe's volume.
	VolumeInitializationRate int `json:"VolumeInitializationRate,omitempty"`
}

// KarpenterBlock is an EC2NodeClass blockDeviceMappings entry.
type KarpenterBlock struct {
	DeviceName string       `json:"deviceName"`
	RootVolume bool         `json:"rootVolume"`
	EBS        KarpenterEBS `json:"ebs"`
}

// KarpenterEBS is its EBS part (volumeSize is a Kubernetes quantity).
type KarpenterEBS struct {
	VolumeSize               string `json:"volumeSize"`
	VolumeType               string `json:"volumeType"`
	VolumeInitializationRate int    `json:"VolumeInitializationRate,omitempty"`
}

func mappingsFor(v RootVolume) RootVolumeMappings {
	recipe := AWSBlockDevice{DeviceName: v.DeviceName, Ebs: AWSEbs{VolumeSize: v.SizeGiB, VolumeType: v.VolumeType, DeleteOnTermination: true}}
	launch := recipe
	launch.Ebs.VolumeInitializationRate = VolumeInitializationRate
	return RootVolumeMappings{ImageBuilderRecipe: recipe, LaunchTemplate: launch,
		EC2NodeClass: KarpenterBlock{DeviceName: v.DeviceName, RootVolume: true, EBS: KarpenterEBS{VolumeSize: fmt.Sprintf("%dGi", v.SizeGiB), VolumeType: v.VolumeType,
			VolumeInitializationRate: VolumeInitializationRate}}}
}

// FastLaunch is the `aws ec2 enable-fast-launch` call for the new AMI.
type FastLaunch struct {
	SnapshotCount       int      `json:"snapshotCount"`
	MaxParallelLaunches int      `json:"maxParallelLaunches"`
	Region              string   `json:"region,omitempty"`
	Command             []string `json:"command"`
	Note                string   `json:"note"`
}

// Karpenter is the EC2NodeClass change that uses the new AMI.
type Karpenter struct {
	AMIFamily        string              `json:"amiFamily"`
	AMISelectorTerms []map[string]string `json:"amiSelectorTerms"`
}

// minParallelLaunches is the least EC2 accepts for --max-parallel-launches.
const minParallelLaunches = 6

// RegionParallelLaunches is EC2's default limit on Windows fast launch's
// parallel launches in a Region, counted across every AMI that has it on
// (40; raised through Service Quotas): the builds of one plan share it,
// and other AMIs with fast launch take from it too.
const RegionParallelLaunches = 40

// shareParallelLaunches caps each build's Fast Launch parallel launches at
// its share of the Region's quota (never under EC2's minimum), and says so
// when that cut a build's plan.
func (p *Plan) shareParallelLaunches() {
	var fastLaunched []*BuildPlan
	for i := range p.Builds {
		if p.Builds[i].Launch.FastLaunch.MaxParallelLaunches > 0 {
			fastLaunched = append(fastLaunched, &p.Builds[i])
		}
	}
	if len(fastLaunched) == 0 {
		return
	}
	share := max(RegionParallelLaunches/len(fastLaunched), minParallelLaunches)
	for _, bp := range fastLaunched {
		fl := &bp.Launch.FastLaunch
		if fl.MaxParallelLaunches <= share {
			continue
		}
		p.Notes = append(p.Notes, fmt.Sprintf("build %d: Fast Launch parallel launches cut from %d to %d, its share of the Region's quota of %d that every AMI with Fast Launch counts against; raise the quota to pre-provision faster",
			bp.Build, fl.MaxParallelLaunches, share, RegionParallelLaunches))
		fl.MaxParallelLaunches = share
		for i, arg := range fl.Command {
			if arg == "--max-parallel-launches" && i+1 < len(fl.Command) {
				fl.Command[i+1] = strconv.Itoa(share)
			}
		}
	}
}

var regionOfZone = regexp.MustCompile(`^([a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+)`)

func LaunchFor(bp *BuildPlan, nodes []*inventory.Node, minor string) Launch {
	l := Launch{ScaleOutPerHour: scaleOut(nodes, time.Hour)}
	if bp.WindowsServer != "" && minor != "" {
		l.BaseAMIParameter = fmt.Sprintf("/aws/service/ami-windows-latest/Windows_Server-%s-English-Core-EKS_Optimized-%s/image_id", bp.WindowsServer, minor)
		l.BaseAMICommand = []string{"aws", "ssm", "get-parameter", "--name", l.BaseAMIParameter, "--query", "Parameter.Value", "--output", "text"}
	}
	region := ""
	for _, n := range nodes {
		if m := regionOfZone.FindStringSubmatch(n.Zone); m != nil {
			region = m[1]
			break
		}
	}
	// One pre-provisioned snapshot per launch in the busiest hour seen,
	// so a scale-out like it never waits for Windows setup.
	fl := FastLaunch{SnapshotCount: max(l.ScaleOutPerHour, 1), Region: region}
	fl.MaxParallelLaunches = max(fl.SnapshotCount, minParallelLaunches)
	fl.Command = []string{"aws", "ec2", "enable-fast-launch", "--image-id", NewAMI, "--resource-type", "snapshot",
		"--snapshot-configuration", "TargetResourceCount=" + strconv.Itoa(fl.SnapshotCount),
		"--max-parallel-launches", strconv.Itoa(fl.MaxParallelLaunches)}
	if region != "" {
		fl.Command = append(fl.Command, "--region", region)
	}
	fl.Note = "Fast Launch works only on an AMI you own (the custom AMI Image Builder makes), not on the public EKS-optimized AMI. " +
		"It pre-provisions by launching instances, so it needs a launch template or a default VPC; Image Builder's sysprep with shutdown is what it expects; " +
		"--max-parallel-launches is capped by the region's limit. Volumes made from snapshots load lazily from S3: set the launch template's EBS " +
		"VolumeInitializationRate (MiB/s) or enable Fast Snapshot Restore on the AMI's snapshot in the nodes' zones, or the first pod start reads the baked layers block by block."
	l.FastLaunch = fl
	l.NodeGroup = nodeGroupAdvice(nodes)
	l.RootVolume = mappingsFor(bp.Disk.RootVolume)
	l.Karpenter = Karpenter{AMIFamily: "Windows" + bp.WindowsServer, AMISelectorTerms: []map[string]string{{"id": NewAMI}}}
	return l
}

// nodeGroupAdvice is how managed node groups move to the new AMI. A group
// created with an EKS AMI type (amiType) cannot switch to a launch template
// with an ImageId; and EKS adds no user data to a custom AMI, so the
// eks.amazonaws.com/nodegroup labels it puts on its own AMI's nodes (which
// the audit and node selectors use) must come from the bootstrap call. A
// managed group takes a new AMI only through a new launch template
// version, and its image id must be an id: EKS's node-group role cannot
// read an SSM parameter (see addNodeGroupLaunchTemplate).
func nodeGroupAdvice(nodes []*inventory.Node) string {
	group := "NODEGROUP"
	for _, n := range nodes {
		if n.GroupKind == "managed" && n.Group != "" {
			group = n.Group
			break
		}
	}
	return fmt.Sprintf("managed node group: create a new node group (one made with an EKS AMI type cannot take an ImageId) from a launch template with ImageId %s "+
		"and user data `& 'C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1' -EKSClusterName CLUSTER -KubeletExtraArgs "+
		"'--node-labels=eks.amazonaws.com/nodegroup=%s-warm,eks.amazonaws.com/nodegroup-image=%s'` (add --register-with-taints for taints; "+
		"EKS adds no user data to a custom AMI), give its node role an access entry of type EC2_WINDOWS, move the workloads, then delete the old group. "+
		"The image id must be the AMI's id, not a resolve:ssm: parameter (EKS's node-group role cannot read SSM). Each later AMI reaches the group only as a new launch template version: "+
		"`aws eks update-nodegroup-version --cluster-name CLUSTER --nodegroup-name %s-warm --launch-template id=LAUNCH_TEMPLATE,version=N` "+
		"(with -o cloudformation, Image Builder makes that version after each build and the NodeGroupUpdate output is this command)",
		NewAMI, group, NewAMI, group)
}

// scaleOut is the most nodes created within any window of length w.
func scaleOut(nodes []*inventory.Node, w time.Duration) int {
	times := make([]time.Time, 0, len(nodes))
	for _, n := range nodes {
		if !n.Created.IsZero() {
			times = append(times, n.Created)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, start := 0, 0
	for end := range times {
		for times[end].Sub(times[start]) >= w {
			start++
		}
		best = max(best, end-start+1)
	}
	return best
}

// VolumeInitializationRate fills a volume made from the AMI's snapshot
// from S3 ahead of reads, in MiB/s: otherwise it loads lazily, and the
// baked layers are what a pod reads first.
const VolumeInitializationRate = 300
