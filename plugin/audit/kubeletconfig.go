package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"

	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/kubeletapi"
)

// Finding codes raised from the kubelets' configuration (--kubelet-config).
const (
	WarmedImagesReverified = "WARMED_IMAGES_REVERIFIED"
	SerialImagePulls       = "SERIAL_IMAGE_PULLS"
	KubeletConfigUnread    = "KUBELET_CONFIG_UNREAD"
)

// KubeletConfig is what one node group's kubelet is configured to do with
// images, read from /configz of its newest node.
type KubeletConfig struct {
	Group   string `json:"group,omitempty"`
	AMI     string `json:"ami,omitempty"`
	Kubelet string `json:"kubelet"`
	// Node is the node read; Nodes how many share its group, AMI, OS
	// version, kubelet and containerd.
	Node  string `json:"node"`
	Nodes int    `json:"nodes"`
	// CredentialsVerification is imagePullCredentialsVerificationPolicy;
	// empty when KubeletEnsureSecretPulledImages is off (kubelet sets the
	// policy only with the gate on: k8s.io/kubernetes v1.37.2
	// pkg/kubelet/apis/config/v1beta1/defaults.go).
	CredentialsVerification string   `json:"imagePullCredentialsVerificationPolicy,omitempty"`
	PreloadedAllowlist      []string `json:"preloadedImagesVerificationAllowlist,omitempty"`
	SerializeImagePulls     *bool    `json:"serializeImagePulls,omitempty"`
	MaxParallelImagePulls   *int32   `json:"maxParallelImagePulls,omitempty"`
	ImageGCHighThreshold    *int32   `json:"imageGCHighThresholdPercent,omitempty"`
	ImageGCLowThreshold     *int32   `json:"imageGCLowThresholdPercent,omitempty"`
	// WarmedImages says what an image the daemon or an AMI pre-pulled
	// means to this kubelet at pod start.
	WarmedImages string `json:"warmedImages"`
	Error        string `json:"error,omitempty"`

	// nodeNames are the group's nodes, which findings name.
	nodeNames []string
}

// What a pre-pulled image means under each policy. An image pulled outside
// kubelet has no pull record, so kubelet counts it "preloaded" (k8s.io/
// kubernetes v1.37.2 pkg/kubelet/images/pullmanager/image_pull_policies.go,
// image_pull_manager.go MustAttemptImagePull).
var warmedMeaning = map[kubeletconfig.ImagePullCredentialsVerificationPolicy]string{
	"":                                       "used as is: credential verification is off (KubeletEnsureSecretPulledImages disabled)",
	kubeletconfig.NeverVerify:                "used as is: kubelet never verifies pull credentials",
	kubeletconfig.NeverVerifyPreloadedImages: "used as is while kubelet has no pull record of it; once kubelet pulls it too, pods with other credentials are verified against the registry",
	kubeletconfig.NeverVerifyAllowlistedImages: "used as is only when on the allowlist; any other image makes kubelet contact the registry with the pod's credentials at pod start (imagePullPolicy: Never pods fail)",
	kubeletconfig.AlwaysVerify:                 "every pod start contacts the registry with the pod's credentials (manifest only; layers stay local); imagePullPolicy: Never pods fail",
}

// readKubeletConfigs reads /configz of the newest node of each group.
func readKubeletConfigs(ctx context.Context, o Options, r *Report) {
	byName := map[string]*inventory.Node{}
	for i := range r.Nodes {
		byName[r.Nodes[i].Name] = &r.Nodes[i]
	}
	for _, g := range r.Groups {
		kc := KubeletConfig{Group: g.Group, AMI: g.AMI, Kubelet: g.Kubelet, Nodes: len(g.Nodes), nodeNames: g.Nodes}
		kc.Node = newestOf(g.Nodes, byName)
		cfg, err := kubeletapi.Config(ctx, o.Client, kc.Node)
		if err != nil {
			kc.Error = err.Error()
			r.KubeletConfigs = append(r.KubeletConfigs, kc)
			continue
		}
		kc.CredentialsVerification = string(cfg.ImagePullCredentialsVerificationPolicy)
		kc.PreloadedAllowlist = cfg.PreloadedImagesVerificationAllowlist
		kc.SerializeImagePulls, kc.MaxParallelImagePulls = cfg.SerializeImagePulls, cfg.MaxParallelImagePulls
		kc.ImageGCHighThreshold, kc.ImageGCLowThreshold = cfg.ImageGCHighThresholdPercent, cfg.ImageGCLowThresholdPercent
		kc.WarmedImages = warmedMeaning[cfg.ImagePullCredentialsVerificationPolicy]
		if kc.WarmedImages == "" {
			kc.WarmedImages = "unknown policy " + kc.CredentialsVerification
		}
		r.KubeletConfigs = append(r.KubeletConfigs, kc)
	}
}

func newestOf(names []string, nodes map[string]*inventory.Node) string {
	best := names[0]
	for _, n := range names[1:] {
		if nodes[n].Created.After(nodes[best].Created) {
			best = n
		}
	}
	return best
}

// kubeletConfigFindings flags groups whose kubelets make warmed images go
// back to the registry, and serial pulls; images are those pods use on
// each group's nodes.
func kubeletConfigFindings(r *Report, groupImages func(nodes []string) []string) []finding.Finding {
	var out []finding.Finding
	for _, kc := range r.KubeletConfigs {
		nodes := kc.nodeNames
		switch {
		case kc.Error != "":
			out = append(out, finding.Finding{Code: KubeletConfigUnread, Severity: finding.Info, Nodes: []string{kc.Node},
				Message: fmt.Sprintf("kubelet configuration of group %s not read: %s", groupName(kc), kc.Error),
				Fix:     "grant get on nodes/proxy to read /configz through the API server"})
			continue
		case kc.CredentialsVerification == string(kubeletconfig.AlwaysVerify):
			out = append(out, reverified(kc, nodes, groupImages(nodes)))
		case kc.CredentialsVerification == string(kubeletconfig.NeverVerifyAllowlistedImages):
			var outside []string
			for _, img := range groupImages(nodes) {
				if !allowlisted(kc.PreloadedAllowlist, img) {
					outside = append(outside, img)
				}
			}
			if len(outside) > 0 {
				out = append(out, reverified(kc, nodes, outside))
			}
		}
		if kc.SerializeImagePulls != nil && *kc.SerializeImagePulls {
			out = append(out, finding.Finding{Code: SerialImagePulls, Severity: finding.Info, Nodes: nodes,
				Message: fmt.Sprintf("group %s pulls images one at a time (serializeImagePulls: true): one multi-GB Windows pull holds every other pod's pull on the node", groupName(kc)),
				Fix:     "set serializeImagePulls: false and maxParallelImagePulls (e.g. 3) in the kubelet configuration"})
		}
	}
	return out
}

func reverified(kc KubeletConfig, nodes, images []string) finding.Finding {
	return finding.Finding{Code: WarmedImagesReverified, Severity: finding.Warning, Nodes: nodes, Images: images,
		Message: fmt.Sprintf("group %s (%s): pods starting from warmed or baked images contact the registry with their pull credentials; a registry outage or a missing secret fails the start",
			groupName(kc), kc.CredentialsVerification),
		Fix: "set imagePullCredentialsVerificationPolicy: NeverVerifyPreloadedImages, or add the warmed repositories to preloadedImagesVerificationAllowlist (registry/path/*)"}
}

func groupName(kc KubeletConfig) string {
	if kc.Group != "" {
		return kc.Group
	}
	return "of " + kc.Node
}

// allowlisted is kubelet's allowlist match: the image without tag or
// digest, as the pod wrote it (not normalized), equals an entry, or starts
// with an entry ending in "/*" (k8s.io/kubernetes v1.37.2
// pkg/kubelet/images/pullmanager/image_pull_policies.go imageMatches,
// getAllowlistImagePattern, trimImageTagDigest).
func allowlisted(allowlist []string, image string) bool {
	repo := image
	if parsed, err := reference.Parse(image); err == nil {
		if d, ok := parsed.(reference.Digested); ok {
			repo = strings.TrimSuffix(repo, "@"+d.Digest().String())
		}
		if t, ok := parsed.(reference.Tagged); ok {
			repo = strings.TrimSuffix(repo, ":"+t.Tag())
		}
	}
	for _, entry := range allowlist {
		if prefix, ok := strings.CutSuffix(entry, "/*"); ok {
			if strings.HasPrefix(repo, prefix+"/") {
				return true
			}
		} else if entry == repo {
			return true
		}
	}
	return false
}

// imagesOn lists the images pods use on any of nodes.
func imagesOn(c *collection) func(nodes []string) []string {
	return func(nodes []string) []string {
		var out []string
		for ref, u := range c.uses {
			for _, n := range nodes {
				if _, ok := u.nodes[n]; ok {
					out = append(out, ref)
					break
				}
			}
		}
		slices.Sort(out)
		return out
	}
}

func kubeletConfigTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("GROUP", 0), col("NODE", 1), col("KUBELET", 0), col("CREDENTIAL VERIFICATION", 0), col("SERIAL PULLS", 0), col("GC HIGH/LOW %", 0), col("WARMED IMAGES", 0),
	}}
	orDash := func(p *int32) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	for _, kc := range r.KubeletConfigs {
		policy, serial := kc.CredentialsVerification, "-"
		switch {
		case kc.Error != "":
			policy = "not read: " + kc.Error
		case policy == "":
			policy = "off"
		}
		if kc.SerializeImagePulls != nil {
			serial = fmt.Sprint(*kc.SerializeImagePulls)
			if !*kc.SerializeImagePulls {
				serial += " (max " + orDash(kc.MaxParallelImagePulls) + ")"
			}
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{groupName(kc), kc.Node, kc.Kubelet, policy, serial,
			orDash(kc.ImageGCHighThreshold) + "/" + orDash(kc.ImageGCLowThreshold), kc.WarmedImages}})
	}
	return t
}
