package fleet

import (
	"strings"
	"testing"
)

const sample = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    servercore: {layers: [64Ki]}
  images:
  - {ref: apps/web:1, bases: [servercore], layers: [4Ki], windows: [10.0.20348.2340]}
nodeGroups:
- {name: ng-a, kind: managed, count: 2, windowsVersion: 10.0.20348.2340, ami: ami-0a, kubelet: v1.35.2-eks-1a2b3c4}
- {name: sys, kind: managed, os: linux, count: 1, kubelet: v1.37.2-eks-0000000}
workloads:
- {name: web, replicas: 2, images: [apps/web:1], nodeGroup: ng-a}
`

func TestParseDefaultsAndChecks(t *testing.T) {
	f, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if f.NodeGroups[0].OS != "windows" || f.NodeGroups[1].OS != "linux" {
		t.Fatalf("OS defaults: %q %q", f.NodeGroups[0].OS, f.NodeGroups[1].OS)
	}
	if len(f.Images.Images) != 1 || f.Images.Images[0].Layers[0].Value() != 4096 {
		t.Fatalf("images = %+v", f.Images)
	}
}

func TestParseRejectsBadFleets(t *testing.T) {
	cases := map[string]string{
		"unknown field":     strings.Replace(sample, "count: 2", "count: 2, colour: red", 1),
		"bad version":       strings.Replace(sample, "windowsVersion: 10.0.20348.2340", "windowsVersion: 2022", 1),
		"bad kind":          strings.Replace(sample, "kind: managed, count: 2", "kind: fargate, count: 2", 1),
		"unknown nodeGroup": strings.Replace(sample, "nodeGroup: ng-a", "nodeGroup: ng-z", 1),
		"not a fleet":       strings.Replace(sample, "kind: Fleet", "kind: Cluster", 1),
	}
	for name, doc := range cases {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
}

func TestNodeNamesAndOSImage(t *testing.T) {
	if got := NodeName(1, 2, "us-west-2c"); got != "ip-10-0-11-12.us-west-2.compute.internal" {
		t.Fatalf("NodeName = %s", got)
	}
	if osImage("10.0.17763.5576") != "Windows Server 2019 Datacenter" || osImage("10.0.26100.1742") != "Windows Server 2025 Datacenter" {
		t.Fatal("osImage does not map builds to Server releases")
	}
	if resolveRef("127.0.0.1:5000", "apps/web:1") != "127.0.0.1:5000/apps/web:1" ||
		resolveRef("127.0.0.1:5000", "mcr.microsoft.com/windows/nanoserver:ltsc2022") != "mcr.microsoft.com/windows/nanoserver:ltsc2022" {
		t.Fatal("resolveRef")
	}
}
