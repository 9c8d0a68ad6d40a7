package diskguard

import (
	"errors"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func fixedUsage(used, total uint64) func(string) (uint64, uint64, error) {
	return func(string) (uint64, uint64, error) { return used, total, nil }
}

func TestReserveKeepsAMarginBelowKubeletsEvictionLine(t *testing.T) {
	g := New("/var/lib/containerd", 0)
	g.usage = fixedUsage(70<<30, 100<<30)
	release, err := g.Reserve(3 << 30) // +7.5 GiB unpacked → 77.5%
	if err != nil {
		t.Fatalf("3 GiB image refused: %v", err)
	}
	release()
	// +11.25 GiB → 81.25%: below eviction (85%) but inside the margin.
	_, err = g.Reserve(4.5 * (1 << 30))
	if err == nil || !strings.Contains(err.Error(), "81%") || !strings.Contains(err.Error(), "80%") {
		t.Fatalf("an image that ends inside the margin: %v", err)
	}
}

func TestReserveCountsPullsAlreadyUnderWay(t *testing.T) {
	g := New("/var/lib/containerd", 0.80)
	g.usage = fixedUsage(60<<30, 100<<30)
	// Three pulls of 3 GiB (7.5 GiB unpacked each) checked at once: each
	// alone fits (67.5%), all three do not (82.5%).
	var releases []func()
	var refused int
	for range 3 {
		release, err := g.Reserve(3 << 30)
		if err != nil {
			refused++
			continue
		}
		releases = append(releases, release)
	}
	if refused != 1 {
		t.Fatalf("%d of three parallel pulls refused; want the third", refused)
	}
	for _, r := range releases {
		r()
	}
	if _, err := g.Reserve(3 << 30); err != nil {
		t.Errorf("after the pulls ended their reservations stayed: %v", err)
	}
}

func TestReserveRefusesWhenTheVolumeCannotBeRead(t *testing.T) {
	g := New(`C:\ProgramData\containerd\root`, 0)
	g.usage = func(string) (uint64, uint64, error) {
		return 0, 0, errors.New("The system cannot find the path specified.")
	}
	_, err := g.Reserve(1)
	if err == nil || !strings.Contains(err.Error(), `C:\ProgramData\containerd\root`) {
		t.Errorf("unreadable root: %v; want a refusal naming it", err)
	}
}

func TestAnUnknownSizeStillChecksTheVolume(t *testing.T) {
	g := New("/var/lib/containerd", 0)
	g.usage = fixedUsage(83<<30, 100<<30)
	if _, err := g.Reserve(0); err == nil {
		t.Error("a pull of unknown size on a volume already past the threshold was let through")
	}
}

func TestVolumeUsageReadsARealVolume(t *testing.T) {
	used, total, err := volumeUsage(wine.TempDir(t))
	if err != nil || total == 0 || used > total {
		t.Fatalf("used %d total %d err %v", used, total, err)
	}
}
