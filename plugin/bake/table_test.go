package bake

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintTableSaysWhyAndHowToLaunch(t *testing.T) {
	bp := planWith("r.example/shop/web:1", "r.example/shop/big:1")
	bp.Images[1].Chosen, bp.Images[1].Rank, bp.Images[1].Reason = false, 0, "over the budget: needs 6.0 MiB cold"
	bp.Nodes, bp.HostOSVersion = 3, "10.0.20348.2582"
	bp.Launch = LaunchFor(bp, nil, "1.37")
	var buf bytes.Buffer
	if err := PrintTable(&buf, &Plan{Limits: PlanLimits{MaxBytes: 10 << 30}, Builds: []BuildPlan{*bp}, Notes: []string{"a note"}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"WINDOWS SERVER 2022 (build 20348): 3 nodes", "chosen: 1 of 2 images", "over the budget",
		"Windows_Server-2022-English-Core-EKS_Optimized-1.37/image_id", "enable-fast-launch", "TargetResourceCount=1", "amiFamily: Windows2022", "note: a note"} {
		if !strings.Contains(out, s) {
			t.Errorf("no %q in:\n%s", s, out)
		}
	}
}
