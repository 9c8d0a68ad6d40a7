package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/pulltime"
)

func TestPrintTablesSectionsAndWide(t *testing.T) {
	now := time.Now()
	r := &Report{
		ServerVersion: "v1.37.2", NodeSelector: "kubernetes.io/os=windows",
		Groups:   []inventory.Group{{Group: "ng", GroupKind: "managed", AMI: "ami-1", OSVersion: "10.0.20348.2582", Kubelet: "v1.36.1", Containerd: "1.7.20", Nodes: []string{"n1"}}},
		Nodes:    []inventory.Node{{Name: "n1", Group: "ng", GroupKind: "managed", AMI: "ami-1", OSVersion: "10.0.20348.2582", Kubelet: "v1.36.1", Containerd: "1.7.20", InstanceType: "m5.large", Created: now.Add(-time.Hour)}},
		Findings: []finding.Finding{{Code: "X", Severity: finding.Warning, Message: "msg", Fix: "do this", Nodes: []string{"n1"}}},
		Images: []Image{{Ref: "r/a:1", Pods: 2, Nodes: 1, CachedOn: 1, Platforms: []PlatformSize{
			{NodeOSVersion: "10.0.20348.2582", Size: 3 << 30, Layers: 5, ForeignLayers: 1, SharedBytes: 3 << 29, Runnable: true},
			{NodeOSVersion: "10.0.17763.1", Runnable: false},
		}}},
		Pulls:   []pulltime.Stat{{Image: "r/a:1", Count: 2, Median: 8 * time.Minute, Max: 9 * time.Minute, BytesPerSecond: 6 << 20}},
		Summary: Summary{Nodes: 1, Images: 1, Warnings: 1},
	}
	all := map[string]bool{SectionNodes: true, SectionFindings: true, SectionImages: true, SectionPulls: true}
	var narrow, wide bytes.Buffer
	if err := PrintTables(&narrow, r, all, false, now); err != nil {
		t.Fatal(err)
	}
	if err := PrintTables(&wide, r, all, true, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NODES", "NODE GROUPS", "ng (managed)", "FINDINGS", "warning", "3.0 GiB (1 foreign)", "NO MATCHING ENTRY", "1/1", "8m0s", "6.0 MiB/s", "1 nodes, 1 images: 0 errors, 1 warnings, 0 info"} {
		if !strings.Contains(narrow.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, narrow.String())
		}
	}
	if strings.Contains(narrow.String(), "do this") || !strings.Contains(wide.String(), "do this") || !strings.Contains(wide.String(), "50%") {
		t.Errorf("wide columns (FIX, SHARED) must show only with -o wide:\n%s", wide.String())
	}
	var nodesOnly bytes.Buffer
	_ = PrintTables(&nodesOnly, r, map[string]bool{SectionNodes: true}, false, now)
	if strings.Contains(nodesOnly.String(), "FINDINGS") || strings.Contains(nodesOnly.String(), "IMAGES") {
		t.Errorf("--sections nodes printed other sections:\n%s", nodesOnly.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "-", 512: "512 B", 1536: "1.5 KiB", 8240000000: "7.7 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %s, want %s", n, got, want)
		}
	}
}
