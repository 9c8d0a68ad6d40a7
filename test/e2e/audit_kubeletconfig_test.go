//go:build linux

package e2e

import (
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
)

// Each group's kubelet configuration, as /configz serves it through the
// API server's node proxy, decides whether a warmed image is used as is
// at pod start (KEP-2535 credential verification).
const kubeletConfigFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: shop/web:1, layers: [64Ki], windows: [10.0.20348.2582]}
  - {ref: erp/legacy:1, layers: [64Ki], windows: [10.0.20348.2582]}
nodeGroups:
- name: strict
  kind: managed
  count: 1
  windowsVersion: 10.0.20348.2582
  kubelet: v1.37.2-eks-1a2b3c4
  kubeletEndpoint:
    config: {imagePullCredentialsVerificationPolicy: AlwaysVerify, serializeImagePulls: false, maxParallelImagePulls: 3, imageGCHighThresholdPercent: 85, imageGCLowThresholdPercent: 80}
- name: allowlisted
  kind: managed
  count: 1
  windowsVersion: 10.0.20348.2582
  kubelet: v1.37.2-eks-1a2b3c4
  kubeletEndpoint:
    config: {imagePullCredentialsVerificationPolicy: NeverVerifyAllowlistedImages, preloadedImagesVerificationAllowlist: ["${REGISTRY}/shop/*"], serializeImagePulls: false}
- name: defaults
  kind: managed
  count: 2
  windowsVersion: 10.0.20348.2582
  kubelet: v1.37.2-eks-1a2b3c4
  kubeletEndpoint:
    config: {imagePullCredentialsVerificationPolicy: NeverVerifyPreloadedImages, serializeImagePulls: true}
- name: old
  kind: managed
  count: 1
  windowsVersion: 10.0.20348.2582
  kubelet: v1.33.5-eks-1a2b3c4
  kubeletEndpoint:
    config: {serializeImagePulls: false}
- {name: unreachable, kind: karpenter, count: 1, windowsVersion: 10.0.20348.2582, kubelet: v1.37.2-eks-1a2b3c4}
workloads:
- {name: web-strict, replicas: 1, images: [shop/web:1], nodeGroup: strict}
- {name: web, replicas: 1, images: [shop/web:1], nodeGroup: allowlisted}
- {name: legacy, replicas: 1, images: [erp/legacy:1], nodeGroup: allowlisted}
- {name: web-defaults, replicas: 2, images: [shop/web:1], nodeGroup: defaults}
`

func TestAuditReadsEachGroupsKubeletConfiguration(t *testing.T) {
	r, _ := startRig(t, kubeletConfigFleet)
	rep := auditJSON(t, r.Kubeconfig, "--kubelet-config")
	byGroup := map[string]audit.KubeletConfig{}
	for _, kc := range rep.KubeletConfigs {
		byGroup[kc.Group] = kc
	}
	if kc := byGroup["strict"]; kc.CredentialsVerification != "AlwaysVerify" || kc.SerializeImagePulls == nil || *kc.SerializeImagePulls || *kc.MaxParallelImagePulls != 3 || *kc.ImageGCHighThreshold != 85 {
		t.Errorf("strict: %+v", kc)
	}
	if kc := byGroup["defaults"]; kc.Nodes != 2 || !strings.Contains(kc.WarmedImages, "used as is while kubelet has no pull record") {
		t.Errorf("defaults: %+v", kc)
	}
	if kc := byGroup["old"]; kc.CredentialsVerification != "" || !strings.Contains(kc.WarmedImages, "verification is off") {
		t.Errorf("old: %+v", kc)
	}
	if kc := byGroup["unreachable"]; kc.Error == "" {
		t.Errorf("a node with no kubelet endpoint was read: %+v", kc)
	}
	codes := findingsByCode(rep)
	re := codes[audit.WarmedImagesReverified]
	if len(re) != 2 {
		t.Fatalf("%s: %+v", audit.WarmedImagesReverified, re)
	}
	for _, f := range re {
		switch {
		case strings.Contains(f.Message, "group strict"):
			if len(f.Images) != 1 || !strings.HasSuffix(f.Images[0], "/shop/web:1") {
				t.Errorf("strict: %+v", f)
			}
		case strings.Contains(f.Message, "group allowlisted"):
			if len(f.Images) != 1 || !strings.HasSuffix(f.Images[0], "/erp/legacy:1") {
				t.Errorf("allowlisted: only legacy is off the list: %+v", f)
			}
		default:
			t.Errorf("unexpected: %+v", f)
		}
	}
	if s := codes[audit.SerialImagePulls]; len(s) != 1 || len(s[0].Nodes) != 2 {
		t.Errorf("%s: %+v", audit.SerialImagePulls, s)
	}
	if u := codes[audit.KubeletConfigUnread]; len(u) != 1 {
		t.Errorf("%s: %+v", audit.KubeletConfigUnread, u)
	}
	out, _, _ := runPlugin(t, r.Kubeconfig, "audit", "--kubelet-config", "--sections", "nodes")
	if !strings.Contains(out, "KUBELET IMAGE SETTINGS") || !strings.Contains(out, "AlwaysVerify") {
		t.Errorf("table:\n%s", out)
	}
	// Without the flag nothing goes through the node proxy.
	if rep := auditJSON(t, r.Kubeconfig); len(rep.KubeletConfigs) != 0 {
		t.Errorf("read without --kubelet-config: %+v", rep.KubeletConfigs)
	}
}
