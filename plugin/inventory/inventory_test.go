package inventory

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, labels map[string]string, kernel, kubelet string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{ProviderID: "aws:///us-east-2b/i-063efb25bb9a06e1b"},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{
			OperatingSystem: "windows", KernelVersion: kernel, KubeletVersion: kubelet,
			ContainerRuntimeVersion: "containerd://1.7.20", OSImage: "Windows Server 2022 Datacenter", Architecture: "amd64",
		}, Images: []corev1.ContainerImage{{Names: []string{"r/a@sha256:1", "r/a:1"}, SizeBytes: 42}}},
	}
}

func TestFromNodeReadsEKSManagedNode(t *testing.T) {
	n := FromNode(node("a", map[string]string{LabelNodegroup: "ng", LabelNodegroupImage: "ami-1", LabelInstanceType: "m5.large"}, "10.0.20348.2340", "v1.35.2-eks-1a2b3c4"))
	if n.Group != "ng" || n.GroupKind != "managed" || n.AMI != "ami-1" || n.AMISource != AMIFromLabel {
		t.Fatalf("group/AMI: %+v", n)
	}
	if n.Build != 20348 || n.Revision != 2340 || n.Containerd != "1.7.20" || n.InstanceID != "i-063efb25bb9a06e1b" {
		t.Fatalf("versions: %+v", n)
	}
	if n.Images["r/a:1"] != 42 || n.Images["r/a@sha256:1"] != 42 {
		t.Fatalf("images: %v", n.Images)
	}
}

func TestFromNodeKarpenterHasNoAMILabel(t *testing.T) {
	n := FromNode(node("k", map[string]string{LabelNodepool: "pool"}, "10.0.17763.5576", "v1.33.5"))
	if n.GroupKind != "karpenter" || n.AMI != "" || n.AMISource != AMIUnknown {
		t.Fatalf("%+v", n)
	}
	if InstanceID("gce://p/z/n") != "" || InstanceID("aws:///us-east-2a/i-0abc") != "i-0abc" {
		t.Fatal("InstanceID")
	}
}

func TestGroupNodesByGroupAMIAndVersions(t *testing.T) {
	a := FromNode(node("a", map[string]string{LabelNodegroup: "ng", LabelNodegroupImage: "ami-1"}, "10.0.20348.2340", "v1.35.2"))
	b := FromNode(node("b", map[string]string{LabelNodegroup: "ng", LabelNodegroupImage: "ami-1"}, "10.0.20348.2340", "v1.35.2"))
	c := FromNode(node("c", map[string]string{LabelNodegroup: "ng", LabelNodegroupImage: "ami-2"}, "10.0.20348.2582", "v1.35.2"))
	groups := GroupNodes([]Node{c, a, b})
	if len(groups) != 2 || groups[0].AMI != "ami-1" || len(groups[0].Nodes) != 2 || groups[1].Nodes[0] != "c" {
		t.Fatalf("groups = %+v", groups)
	}
}

// kubelet lists an image's names together: a tag beside the repository
// digest CRI reports for the same image is the digest that tag holds on
// the node. Names of other repositories in the entry are not its digest.
func TestFromNodeKnowsTheDigestEachTagHolds(t *testing.T) {
	n := node("a", nil, "10.0.20348.2340", "v1.35.2")
	n.Status.Images = []corev1.ContainerImage{
		{Names: []string{"r.example/shop/web@sha256:aa", "r.example/shop/web:1", "r.example/shop/web:latest", "r.example/other/web@sha256:bb"}},
		{Names: []string{"r.example:5000/x:2", "r.example:5000/x@sha256:cc"}},
		{Names: []string{"r.example/lonely:3"}},
	}
	got := FromNode(n).TagDigests
	want := map[string]string{"r.example/shop/web:1": "sha256:aa", "r.example/shop/web:latest": "sha256:aa", "r.example:5000/x:2": "sha256:cc"}
	if len(got) != len(want) {
		t.Fatalf("tag digests %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s holds %q, want %q", k, got[k], v)
		}
	}
}
