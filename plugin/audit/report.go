// Package audit inspects a fleet's Windows nodes and the images their pods
// use, and reports inventory, skew and compatibility findings, per-platform
// image sizes, cache coverage and observed pull times.
package audit

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/pulltime"
	"github.com/winimage-io/kubectl-winimage/plugin/startup"
)

// APIVersion and Kind of the report schema; a field change that breaks
// readers bumps the version.
const (
	APIVersion = "winimage.io/v1alpha1"
	Kind       = "AuditReport"
)

// Sections of the report.
const (
	SectionNodes    = "nodes"
	SectionFindings = "findings"
	SectionImages   = "images"
	SectionPulls    = "pulls"
	SectionStartup  = "startup"
)

// AllSections in display order.
var AllSections = []string{SectionNodes, SectionFindings, SectionImages, SectionPulls, SectionStartup}

// Report is the audit's output (-o json|yaml prints it as is).
type Report struct {
	metav1.TypeMeta `json:",inline"`
	ServerVersion   string            `json:"serverVersion"`
	NodeSelector    string            `json:"nodeSelector"`
	Namespace       string            `json:"namespace,omitempty"`
	Nodes           []inventory.Node  `json:"nodes,omitempty"`
	Groups          []inventory.Group `json:"groups,omitempty"`
	Findings        []finding.Finding `json:"findings"`
	Images          []Image           `json:"images,omitempty"`
	Pulls           []pulltime.Stat   `json:"pulls,omitempty"`
	// Startup is how long nodes and pods took to start, split before and
	// after the warm list and baked AMIs came into use.
	Startup *startup.Section `json:"startup,omitempty"`
	// KubeletConfigs has one entry per group (--kubelet-config).
	KubeletConfigs []KubeletConfig `json:"kubeletConfigs,omitempty"`
	// Skipped says what the audit could not look at and why (RBAC, flags).
	Skipped []string `json:"skipped,omitempty"`
	Summary Summary  `json:"summary"`

	// bakedAMIs are the nodes' AMIs EC2 says a bake produced.
	bakedAMIs []string
}

// Summary counts findings by severity.
type Summary struct {
	Nodes    int `json:"nodes"`
	Images   int `json:"images"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// Image is one image used by pods on the selected nodes.
type Image struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
	Pods   int    `json:"pods"`
	// PodNames lists up to 20 pods as namespace/name.
	PodNames []string `json:"podNames,omitempty"`
	Nodes    int      `json:"nodes"`
	// Platforms has the entry and size per node OS version the image runs on.
	Platforms []PlatformSize `json:"platforms,omitempty"`
	// OnNodeBytes is the largest size kubelet reports in status.images.
	OnNodeBytes int64 `json:"onNodeBytes,omitempty"`
	// CachedOn counts the nodes running the image whose status.images lists
	// it (kubelet caps that list at 50 by default).
	CachedOn int    `json:"cachedOn"`
	Error    string `json:"error,omitempty"`
}

// PlatformSize is an image's entry for one node OS version.
type PlatformSize struct {
	NodeOSVersion string `json:"nodeOSVersion"`
	// EntryRule is how these nodes' containerd picks among the index
	// entries that match them (it differs between containerd 1.x and 2.x),
	// so one OS version has a row per rule when its nodes run both.
	EntryRule string `json:"entryRule,omitempty"`
	// Pods using the image on nodes of this OS version and rule.
	Pods           int    `json:"pods"`
	EntryOSVersion string `json:"entryOSVersion,omitempty"`
	Digest         string `json:"digest,omitempty"`
	Size           int64  `json:"size"`
	Layers         int    `json:"layers"`
	ForeignLayers  int    `json:"foreignLayers,omitempty"`
	// SharedBytes are the bytes of layers this entry shares with other
	// images (bases such as servercore): pulled once per node.
	SharedBytes int64 `json:"sharedBytes"`
	// Runnable is false when no entry can run on this OS version.
	Runnable bool `json:"runnable"`
}

// DeepCopyObject lets cli-runtime printers print the report.
func (r *Report) DeepCopyObject() runtime.Object { c := *r; return &c }
