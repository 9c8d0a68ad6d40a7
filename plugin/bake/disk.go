package bake

import (
	"fmt"
	"math"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// Disk sizing constants, each with where it comes from.
const (
	// pinnedShare is how much of the room under the GC threshold the
	// pinned images may take; the rest stays for images pulled at run
	// time, which GC can reclaim.
	pinnedShare = 0.5
	// AssumedBaseUsage is the non-image disk use assumed for a node of the
	// EKS-optimized Windows AMI when it could not be measured (Windows,
	// page file, kubelet and containerd state, logs). It is a planning
	// default, said as such in the plan; --base-usage or readable
	// stats/summary replace it.
	AssumedBaseUsage = 25 << 30
	// RootDevice is the root device name of the EKS-optimized Windows AMIs.
	RootDevice = "/dev/sda1"
	gib        = 1 << 30
)

// Disk is what the budget of one build's AMI was derived from.
type Disk struct {
	// VolumeBytes is the root volume the plan is sized for: the smallest
	// ephemeral-storage capacity among the build's nodes, or --volume.
	VolumeBytes  int64  `json:"volumeBytes"`
	VolumeSource string `json:"volumeSource"`
	// BaseUsageBytes is what the volume holds besides images.
	BaseUsageBytes  int64  `json:"baseUsageBytes"`
	BaseUsageSource string `json:"baseUsageSource"`
	// BudgetBytes is the compressed bytes of images the AMI may carry.
	BudgetBytes  int64  `json:"budgetBytes"`
	BudgetSource string `json:"budgetSource"`
	// OnDiskRatio is the extracted over compressed size used.
	OnDiskRatio float64 `json:"onDiskRatio"`
	// WantedVolumeGiB is the root volume that would hold every candidate
	// with the same margins; 0 when the current volume does.
	WantedVolumeGiB int `json:"wantedVolumeGiB,omitempty"`
	// RootVolume is the volume to set wherever the AMI is used.
	RootVolume RootVolume `json:"rootVolume"`
}

// RootVolume is the block device mapping the AMI's users must set: in the
// Image Builder recipe, the launch template and the EC2NodeClass.
type RootVolume struct {
	DeviceName string `json:"deviceName"`
	SizeGiB    int    `json:"sizeGiB"`
	VolumeType string `json:"volumeType"`
}

// DiskOptions override what the budget is derived from.
type DiskOptions struct {
	// VolumeBytes plans for a root volume of this size (--volume).
	VolumeBytes int64
	// BaseUsageBytes replaces the measured or assumed base use.
	BaseUsageBytes int64
	// OnDiskRatio is extracted over compressed size (0: the default).
	OnDiskRatio float64
	// MeasuredBaseUsage holds node → non-image bytes used, from kubelet's
	// stats summary (node fs used − image fs used).
	MeasuredBaseUsage map[string]int64
}

// diskFor derives the build's budget: the pinned images may take half of
// what is left under kubelet's GC threshold once the base use is counted,
// at their on-disk size.
// maxBytes, when set, is the budget itself (--max-bytes).
func diskFor(nodes []*inventory.Node, o DiskOptions, maxBytes int64) Disk {
	d := Disk{VolumeSource: "--volume", VolumeBytes: o.VolumeBytes}
	if d.VolumeBytes == 0 {
		smallest := ""
		for _, n := range nodes {
			if n.EphemeralStorage > 0 && (smallest == "" || n.EphemeralStorage < d.VolumeBytes) {
				d.VolumeBytes, smallest = n.EphemeralStorage, n.Name
			}
		}
		d.VolumeSource = fmt.Sprintf("smallest ephemeral-storage capacity of %d nodes (%s)", len(nodes), smallest)
		if smallest == "" {
			d.VolumeBytes = 50 * gib
			d.VolumeSource = "no node reports ephemeral-storage: the 50 GiB EKS managed node groups and Karpenter give Windows nodes by default"
		}
	}
	d.BaseUsageBytes, d.BaseUsageSource = baseUsage(nodes, o)
	d.OnDiskRatio = o.ratio()
	if maxBytes > 0 {
		d.BudgetBytes, d.BudgetSource = maxBytes, "--max-bytes"
	} else {
		d.BudgetBytes = budgetFor(d.VolumeBytes, d.BaseUsageBytes, d.OnDiskRatio)
		d.BudgetSource = fmt.Sprintf("(%d%% of the volume − base use) × %.0f%% for pinned images ÷ (%.1f on-disk ratio + 1 for the compressed layers ctr keeps)",
			contract.ImageGCHighThresholdPercent, pinnedShare*100, d.OnDiskRatio)
	}
	d.RootVolume = RootVolume{DeviceName: RootDevice, SizeGiB: int(math.Ceil(float64(d.VolumeBytes) / gib)), VolumeType: "gp3"}
	return d
}

// baseUsage is the override, else the largest measured use among the
// build's nodes (the AMI plus what its nodes keep), else the assumption.
func baseUsage(nodes []*inventory.Node, o DiskOptions) (int64, string) {
	if o.BaseUsageBytes > 0 {
		return o.BaseUsageBytes, "--base-usage"
	}
	var most int64
	on := ""
	for _, n := range nodes {
		if b, ok := o.MeasuredBaseUsage[n.Name]; ok && b > most {
			most, on = b, n.Name
		}
	}
	if on != "" {
		return most, fmt.Sprintf("measured on %s (kubelet stats/summary: node fs used − image fs used)", on)
	}
	return AssumedBaseUsage, "assumed (not measured: give --node-stats with nodes/proxy access, or --base-usage)"
}

// keptPerCompressedByte is what a baked image keeps on the volume per
// byte of its compressed layers: the extracted snapshot (ratio) and the
// compressed blobs, which ctr images pull leaves in the content store.
// Only CRI's pull with discard_unpacked_layers lets them go (containerd
// v2.4.2 internal/cri/server/images/image_pull.go; ctr images pull has no
// such option, cmd/ctr/commands/images/pull.go).
func keptPerCompressedByte(ratio float64) float64 { return ratio + 1 }

// budgetFor is the compressed bytes the pinned images may take on a volume.
func budgetFor(volume, base int64, ratio float64) int64 {
	room := float64(volume)*contract.ImageGCHighThresholdPercent/100 - float64(base)
	if room <= 0 {
		return 0
	}
	return int64(room * pinnedShare / keptPerCompressedByte(ratio))
}

// volumeFor is the smallest root volume, in GiB rounded up to 10, whose
// budget holds compressed bytes of images.
func volumeFor(compressed, base int64, ratio float64) int {
	need := (float64(compressed)*keptPerCompressedByte(ratio)/pinnedShare + float64(base)) * 100 / contract.ImageGCHighThresholdPercent
	return int(math.Ceil(need/gib/10)) * 10
}

func (o DiskOptions) ratio() float64 {
	if o.OnDiskRatio > 0 {
		return o.OnDiskRatio
	}
	return contract.OnDiskRatio
}

// wantVolume records the volume every candidate the budget left out would
// need, and sizes the root volume to set: the larger of today's and that.
func (d *Disk) wantVolume(chosen, leftOut int64) {
	if leftOut > 0 {
		if want := volumeFor(chosen+leftOut, d.BaseUsageBytes, d.OnDiskRatio); want > d.RootVolume.SizeGiB {
			d.WantedVolumeGiB = want
		}
	}
}
