package audit

import (
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/finding"
)

func TestAllowlistMatchesAsKubeletDoes(t *testing.T) {
	list := []string{"123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/*", "mcr.microsoft.com/windows/servercore", "docker.io/library/nginx"}
	for img, want := range map[string]bool{
		"123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:1":                true,
		"123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/cart@sha256:" + hex64: true,
		"123456789012.dkr.ecr.us-east-2.amazonaws.com/erp/legacy:1":              false,
		"mcr.microsoft.com/windows/servercore:ltsc2022":                          true,
		"mcr.microsoft.com/windows/servercore/iis:ltsc2022":                      false,
		// kubelet does not normalize: docker.io/library/nginx is not nginx.
		"nginx:1": false,
	} {
		if got := allowlisted(list, img); got != want {
			t.Errorf("%s: allowlisted %v, want %v", img, got, want)
		}
	}
	if !allowlisted([]string{"nginx"}, "nginx:1") {
		t.Error("a short name on the list must match the same short name")
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestKubeletConfigFindings(t *testing.T) {
	yes := true
	r := &Report{
		KubeletConfigs: []KubeletConfig{
			{Group: "always", Node: "a", nodeNames: []string{"a"}, CredentialsVerification: "AlwaysVerify"},
			{Group: "allow", Node: "b", nodeNames: []string{"b"}, CredentialsVerification: "NeverVerifyAllowlistedImages", PreloadedAllowlist: []string{"r.example/ok/*"}},
			{Group: "default", Node: "c", nodeNames: []string{"c"}, CredentialsVerification: "NeverVerifyPreloadedImages", SerializeImagePulls: &yes},
			{Group: "unread", Node: "d", nodeNames: []string{"d"}, Error: "forbidden"},
		},
	}
	images := map[string][]string{"a": {"r.example/ok/x:1"}, "b": {"r.example/ok/x:1", "r.example/other/y:1"}, "c": {"r.example/other/y:1"}}
	got := kubeletConfigFindings(r, func(nodes []string) []string { return images[nodes[0]] })
	codes := map[string][]finding.Finding{}
	for _, f := range got {
		codes[f.Code] = append(codes[f.Code], f)
	}
	re := codes[WarmedImagesReverified]
	if len(re) != 2 || re[0].Nodes[0] != "a" || re[1].Nodes[0] != "b" || len(re[1].Images) != 1 || re[1].Images[0] != "r.example/other/y:1" {
		t.Errorf("%s: %+v", WarmedImagesReverified, re)
	}
	if s := codes[SerialImagePulls]; len(s) != 1 || s[0].Nodes[0] != "c" {
		t.Errorf("%s: %+v", SerialImagePulls, s)
	}
	if u := codes[KubeletConfigUnread]; len(u) != 1 || u[0].Nodes[0] != "d" {
		t.Errorf("%s: %+v", KubeletConfigUnread, u)
	}
}
