package diskguard

import (
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestCheckAgainstThreshold(t *testing.T) {
	g := New("/var/lib/containerd", 0)
	g.usage = func(string) (uint64, uint64, error) { return 70 << 30, 100 << 30, nil }
	if err := g.Check(2 << 30); err != nil { // +5 GiB unpacked → 75%
		t.Fatalf("2 GiB image refused: %v", err)
	}
	err := g.Check(8 << 30) // +20 GiB → 90%
	if err == nil || !strings.Contains(err.Error(), "90%") || !strings.Contains(err.Error(), "85%") {
		t.Fatalf("8 GiB image: %v", err)
	}
}

func TestVolumeUsageReadsARealVolume(t *testing.T) {
	used, total, err := volumeUsage(wine.TempDir(t))
	if err != nil || total == 0 || used > total {
		t.Fatalf("used %d total %d err %v", used, total, err)
	}
}
