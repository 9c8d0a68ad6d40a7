package bake

import (
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

func TestTheBudgetComesFromTheSmallestNodeVolume(t *testing.T) {
	nodes := []*inventory.Node{{Name: "a", EphemeralStorage: 100 * gib}, {Name: "b", EphemeralStorage: 50 * gib}}
	d := diskFor(nodes, DiskOptions{}, 0)
	if d.VolumeBytes != 50*gib || !strings.Contains(d.VolumeSource, "(b)") {
		t.Fatalf("volume %d from %q", d.VolumeBytes, d.VolumeSource)
	}
	// (85% of 50 GiB − 25 GiB assumed) × 50% ÷ (2.2 extracted + 1 for
	// the compressed blobs ctr keeps) = 2.73 GiB.
	if want := budgetOf(42.5-25, 3.2); d.BudgetBytes != want {
		t.Errorf("budget %d, want %d", d.BudgetBytes, want)
	}
	if !strings.HasPrefix(d.BaseUsageSource, "assumed") {
		t.Errorf("base use source %q", d.BaseUsageSource)
	}
	if d.RootVolume != (RootVolume{DeviceName: "/dev/sda1", SizeGiB: 50, VolumeType: "gp3"}) {
		t.Errorf("root volume %+v", d.RootVolume)
	}
}

func TestTheBudgetUsesMeasuredBaseUseAndOverrides(t *testing.T) {
	nodes := []*inventory.Node{{Name: "a", EphemeralStorage: 100 * gib}, {Name: "b", EphemeralStorage: 100 * gib}}
	d := diskFor(nodes, DiskOptions{MeasuredBaseUsage: map[string]int64{"a": 20 * gib, "b": 30 * gib, "elsewhere": 60 * gib}}, 0)
	if d.BaseUsageBytes != 30*gib || !strings.Contains(d.BaseUsageSource, "measured on b") {
		t.Fatalf("base use %d from %q: want the largest of the build's nodes", d.BaseUsageBytes, d.BaseUsageSource)
	}
	if want := budgetOf(85-30, 3.2); d.BudgetBytes != want {
		t.Errorf("budget %d, want %d", d.BudgetBytes, want)
	}
	d = diskFor(nodes, DiskOptions{VolumeBytes: 200 * gib, BaseUsageBytes: 10 * gib, OnDiskRatio: 3}, 0)
	if want := budgetOf(170-10, 4); d.BudgetBytes != want || d.RootVolume.SizeGiB != 200 {
		t.Errorf("overrides: budget %d (want %d), volume %d GiB", d.BudgetBytes, want, d.RootVolume.SizeGiB)
	}
	if d = diskFor(nodes, DiskOptions{}, 7<<30); d.BudgetBytes != 7<<30 || d.BudgetSource != "--max-bytes" {
		t.Errorf("--max-bytes: %d %q", d.BudgetBytes, d.BudgetSource)
	}
	if d = diskFor(nodes, DiskOptions{VolumeBytes: 20 * gib}, 0); d.BudgetBytes != 0 {
		t.Errorf("a volume the base use fills has budget %d", d.BudgetBytes)
	}
}

func TestNodesWithoutCapacityGetTheDefaultVolumeSaidAsSuch(t *testing.T) {
	d := diskFor([]*inventory.Node{{Name: "a"}}, DiskOptions{}, 0)
	if d.VolumeBytes != 50*gib || !strings.Contains(d.VolumeSource, "50 GiB") {
		t.Errorf("volume %d from %q", d.VolumeBytes, d.VolumeSource)
	}
}

func TestTheWantedVolumeHoldsEveryCandidate(t *testing.T) {
	d := diskFor([]*inventory.Node{{Name: "a", EphemeralStorage: 50 * gib}}, DiskOptions{}, 0)
	d.wantVolume(3*gib, 5*gib)
	// 8 GiB × (2.2 + 1) ÷ 50% + 25 GiB = 76.2 GiB, ÷ 85% = 89.6 → 90 GiB.
	if d.WantedVolumeGiB != 90 {
		t.Errorf("wanted %d GiB", d.WantedVolumeGiB)
	}
	if budget := budgetFor(90*gib, d.BaseUsageBytes, d.OnDiskRatio); budget < 8*gib {
		t.Errorf("the wanted volume's budget %d does not hold the 8 GiB", budget)
	}
	d.WantedVolumeGiB = 0
	d.wantVolume(3*gib, 0)
	if d.WantedVolumeGiB != 0 {
		t.Errorf("nothing left out, yet wanted %d GiB", d.WantedVolumeGiB)
	}
}

// budgetOf is half of room GiB over ratio, in bytes.
func budgetOf(room, ratio float64) int64 { return int64(room * gib * 0.5 / ratio) }
