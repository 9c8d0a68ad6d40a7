package skew

import (
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

func codes(fs []finding.Finding) map[string]finding.Finding {
	out := map[string]finding.Finding{}
	for _, f := range fs {
		out[f.Code] = f
	}
	return out
}

func TestCheckKubeletSkewPolicy(t *testing.T) {
	nodes := []inventory.Node{
		{Name: "new", Kubelet: "v1.38.0-eks-1"},
		{Name: "old", Kubelet: "v1.33.5-eks-9a8b7c6"},
		{Name: "ok", Kubelet: "v1.34.2-eks-1"},
		{Name: "same", Kubelet: "v1.37.2-eks-1"},
	}
	got := codes(Check("v1.37.2", nodes))
	if f := got[KubeletNewerThanAPIServer]; f.Severity != finding.Error || len(f.Nodes) != 1 || f.Nodes[0] != "new" {
		t.Errorf("newer: %+v", f)
	}
	if f := got[KubeletSkewUnsupported]; f.Severity != finding.Error || f.Nodes[0] != "old" {
		t.Errorf("unsupported: %+v", f)
	}
	if f := got[KubeletBehindAPIServer]; f.Severity != finding.Info || f.Nodes[0] != "ok" {
		t.Errorf("behind: %+v", f)
	}
	if f := got[KubeletVersionsMixed]; f.Severity != finding.Warning || len(f.Nodes) != 4 {
		t.Errorf("mixed: %+v", f)
	}
}

func TestCheckOlderKubeletsAllowOnlyTwoMinors(t *testing.T) {
	got := codes(Check("v1.26.0", []inventory.Node{{Name: "a", Kubelet: "v1.23.9"}}))
	if _, ok := got[KubeletSkewUnsupported]; !ok {
		t.Fatalf("1.23 kubelet against 1.26 must be unsupported: %+v", got)
	}
	got = codes(Check("v1.28.0", []inventory.Node{{Name: "a", Kubelet: "v1.25.0"}}))
	if _, ok := got[KubeletSkewUnsupported]; ok {
		t.Fatalf("1.25 kubelet against 1.28 is within policy: %+v", got)
	}
}

func TestCheckAMIsAndOSBuilds(t *testing.T) {
	nodes := []inventory.Node{
		{Name: "a1", Group: "a", AMI: "ami-1", Kubelet: "v1.37.0", Build: 20348, Revision: 2582},
		{Name: "a2", Group: "a", AMI: "ami-2", Kubelet: "v1.37.0", Build: 20348, Revision: 2340},
		{Name: "b1", Group: "b", AMI: "ami-1", Kubelet: "v1.37.0", Build: 20348, Revision: 2582},
		{Name: "k1", Group: "pool", Kubelet: "v1.37.0", Build: 17763, Revision: 6893},
	}
	got := codes(Check("v1.37.2", nodes))
	if f := got[AMIMixedInGroup]; len(f.Nodes) != 2 || f.Severity != finding.Warning {
		t.Errorf("group: %+v", f)
	}
	if f := got[AMIMixedInCluster]; len(f.Nodes) != 3 {
		t.Errorf("cluster: %+v", f)
	}
	if f := got[AMIUnknown]; len(f.Nodes) != 1 || f.Nodes[0] != "k1" {
		t.Errorf("unknown: %+v", f)
	}
	if f := got[OSBuildsMixed]; f.Severity != finding.Info {
		t.Errorf("builds: %+v", f)
	}
	if f := got[OSRevisionsMixed]; f.Severity != finding.Warning || len(f.Nodes) != 3 {
		t.Errorf("revisions: %+v", f)
	}
	if _, ok := got[KubeletVersionsMixed]; ok {
		t.Error("one kubelet version reported as mixed")
	}
}

func TestCheckFlagsContainerdThatIgnoresPins(t *testing.T) {
	nodes := []inventory.Node{
		{Name: "old-a", Containerd: "1.7.9"}, {Name: "old-b", Containerd: "1.6.36"},
		{Name: "ok", Containerd: "1.7.10"}, {Name: "new", Containerd: "2.1.4"}, {Name: "unknown", Containerd: ""},
	}
	var got []string
	for _, f := range Check("v1.33.1", nodes) {
		if f.Code == PinsNotHonoured {
			got = append(got, strings.Join(f.Nodes, ","))
		}
	}
	if strings.Join(got, ";") != "old-b;old-a" {
		t.Fatalf("PINS_NOT_HONOURED on %v, want old-b (1.6.36) and old-a (1.7.9)", got)
	}
}
