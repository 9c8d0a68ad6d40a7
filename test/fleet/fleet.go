// Package fleet turns a declarative fleet file into a cluster shaped like an
// EKS fleet with Windows nodes: Node objects with the labels, taint,
// providerID and status.nodeInfo of managed node groups, Karpenter node pools
// and self-managed groups; the images they run, pushed to the rig registry;
// workloads using them; and kubelet-style Pulled events. Tests and the demo
// share the format.
package fleet

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// Fleet is the content of a fleet file.
type Fleet struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Images     imagefixtures.Spec `json:"images"`
	NodeGroups []NodeGroup        `json:"nodeGroups"`
	Workloads  []Workload         `json:"workloads,omitempty"`
	PullEvents []PullEvent        `json:"pullEvents,omitempty"`
	// StartHistory is past pod starts for the audit's startup section.
	StartHistory []StartHistory `json:"startHistory,omitempty"`
}

// Group kinds, as EKS users have them.
const (
	Managed     = "managed"     // EKS managed node group
	Karpenter   = "karpenter"   // Karpenter node pool
	SelfManaged = "selfManaged" // eksctl self-managed node group
)

// NodeGroup is a set of identical nodes.
type NodeGroup struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	// OS is windows (default) or linux.
	OS string `json:"os,omitempty"`
	// WindowsVersion is major.minor.build.revision, e.g. 10.0.20348.2340:
	// the node's kernelVersion; its first three parts are the
	// node.kubernetes.io/windows-build label.
	WindowsVersion string `json:"windowsVersion,omitempty"`
	// AMI is the image id; managed groups carry it as a label, the others
	// only have it in EC2.
	AMI          string `json:"ami,omitempty"`
	Kubelet      string `json:"kubelet"`
	Containerd   string `json:"containerd,omitempty"`
	InstanceType string `json:"instanceType,omitempty"`
	Zone         string `json:"zone,omitempty"`
	// ReadyAfter is how long after creation the node turned Ready (kwok
	// groups; kwok itself says at once).
	ReadyAfter string `json:"readyAfter,omitempty"`
	// NoTaint leaves off the os=windows:NoSchedule taint.
	NoTaint bool `json:"noTaint,omitempty"`
	// StandIn nodes are played by the rig's kubelet stand-in, which really
	// runs their pods, instead of kwok.
	StandIn bool `json:"standIn,omitempty"`
	// CachedImages are references (relative ones are in the rig registry)
	// the nodes report in status.images.
	CachedImages []string `json:"cachedImages,omitempty"`
	// EphemeralStorage is the root volume kubelet reports in
	// status.capacity (e.g. 50Gi); empty reports none.
	EphemeralStorage string `json:"ephemeralStorage,omitempty"`
	// Kubelet, when set, is what the nodes' kubelets serve through the API
	// server's node proxy (/configz, /stats/summary); the rig plays it.
	KubeletEndpoint *KubeletEndpoint `json:"kubeletEndpoint,omitempty"`
}

// KubeletEndpoint is what a node's kubelet serves about itself.
type KubeletEndpoint struct {
	// Config is the kubelet configuration as /configz shows it (v1beta1
	// field names), e.g. {imagePullCredentialsVerificationPolicy: AlwaysVerify}.
	Config map[string]any `json:"config,omitempty"`
	// RootUsed and ImagesUsed are the node file system's and the image
	// file system's used bytes in /stats/summary (e.g. 30Gi, 8Gi).
	RootUsed   string `json:"rootUsed,omitempty"`
	ImagesUsed string `json:"imagesUsed,omitempty"`
}

// Workload is a Deployment.
type Workload struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Replicas  int32  `json:"replicas"`
	// Images are the containers' images, InitImages the init containers'.
	Images     []string `json:"images"`
	InitImages []string `json:"initImages,omitempty"`
	// OS selects kubernetes.io/os and, for windows, tolerates os=windows.
	OS string `json:"os,omitempty"`
	// WindowsBuild (10.0.20348) adds a node.kubernetes.io/windows-build
	// selector; NodeGroup an eks.amazonaws.com/nodegroup or
	// karpenter.sh/nodepool selector, by the group's kind.
	WindowsBuild string   `json:"windowsBuild,omitempty"`
	NodeGroup    string   `json:"nodeGroup,omitempty"`
	PullSecrets  []string `json:"pullSecrets,omitempty"`
	// CPU is each pod's CPU request; more than any node has keeps the pods
	// Pending (unschedulable) while their selectors still match nodes.
	CPU *resource.Quantity `json:"cpu,omitempty"`
}

// PullEvent adds kubelet Pulled events for an image on a group's nodes, one
// per duration, spread over the nodes in turn.
type PullEvent struct {
	Image     string   `json:"image"`
	NodeGroup string   `json:"nodeGroup"`
	Namespace string   `json:"namespace,omitempty"`
	Durations []string `json:"durations"`
	// SizeBytes is the reported image size; empty means the registry size of
	// the entry for the node's platform.
	SizeBytes *resource.Quantity `json:"sizeBytes,omitempty"`
}

// Load reads and checks a fleet file.
func Load(path string) (*Fleet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes a fleet document strictly (unknown fields are errors) and
// checks it.
func Parse(data []byte) (*Fleet, error) {
	var f Fleet
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return &f, nil
}

func (f *Fleet) validate() error {
	if f.Kind != "Fleet" {
		return fmt.Errorf("kind is %q, want Fleet", f.Kind)
	}
	groups := map[string]bool{}
	for i := range f.NodeGroups {
		g := &f.NodeGroups[i]
		if g.Name == "" || groups[g.Name] {
			return fmt.Errorf("nodeGroups[%d]: name %q is empty or repeated", i, g.Name)
		}
		groups[g.Name] = true
		if g.OS == "" {
			g.OS = "windows"
		}
		switch g.Kind {
		case Managed, Karpenter, SelfManaged:
		default:
			return fmt.Errorf("nodeGroup %s: kind %q is not managed, karpenter or selfManaged", g.Name, g.Kind)
		}
		if g.OS == "windows" && len(strings.Split(g.WindowsVersion, ".")) != 4 {
			return fmt.Errorf("nodeGroup %s: windowsVersion %q is not major.minor.build.revision", g.Name, g.WindowsVersion)
		}
		if g.Kubelet == "" {
			return fmt.Errorf("nodeGroup %s: kubelet version missing", g.Name)
		}
	}
	for _, h := range f.StartHistory {
		if g := f.group(h.NodeGroup); g == nil || g.StandIn {
			return fmt.Errorf("startHistory: nodeGroup %q is not a kwok group of the fleet", h.NodeGroup)
		}
	}
	for _, w := range f.Workloads {
		if w.NodeGroup != "" && !groups[w.NodeGroup] {
			return fmt.Errorf("workload %s: unknown nodeGroup %q", w.Name, w.NodeGroup)
		}
		if len(w.Images) == 0 {
			return fmt.Errorf("workload %s: no images", w.Name)
		}
	}
	for _, e := range f.PullEvents {
		if !groups[e.NodeGroup] {
			return fmt.Errorf("pullEvent %s: unknown nodeGroup %q", e.Image, e.NodeGroup)
		}
	}
	return nil
}

// buildNumber is the build of a Windows version ("20348"), or "" for none.
func buildNumber(version string) string {
	v, err := osbuild.Parse(version)
	if err != nil {
		return ""
	}
	return strconv.Itoa(v.Build)
}

// osImage is what a Windows node reports as status.nodeInfo.osImage.
func osImage(version string) string {
	switch buildNumber(version) {
	case "17763":
		return "Windows Server 2019 Datacenter"
	case "20348":
		return "Windows Server 2022 Datacenter"
	case "26100":
		return "Windows Server 2025 Datacenter"
	}
	return "Windows Server Datacenter"
}

func (f *Fleet) group(name string) *NodeGroup {
	for i := range f.NodeGroups {
		if f.NodeGroups[i].Name == name {
			return &f.NodeGroups[i]
		}
	}
	return nil
}
