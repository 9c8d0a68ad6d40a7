// Package inventory describes the nodes of a fleet the way an EKS Windows
// operator thinks of them: node group or pool, AMI, OS build and patch
// level, kubelet and containerd versions.
package inventory

import (
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
)

// Labels set by EKS managed node groups, Karpenter and eksctl.
const (
	LabelNodegroup      = "eks.amazonaws.com/nodegroup"
	LabelNodegroupImage = "eks.amazonaws.com/nodegroup-image"
	LabelNodepool       = "karpenter.sh/nodepool"
	LabelEksctlGroup    = "alpha.eksctl.io/nodegroup-name"
	LabelWindowsBuild   = "node.kubernetes.io/windows-build"
	LabelInstanceType   = "node.kubernetes.io/instance-type"
	LabelZone           = "topology.kubernetes.io/zone"
)

// Node is one node as the audit reports it.
type Node struct {
	Name string `json:"name"`
	// Group is the managed node group, Karpenter node pool or eksctl group;
	// GroupKind says which ("managed", "karpenter", "selfManaged", "").
	Group     string `json:"group,omitempty"`
	GroupKind string `json:"groupKind,omitempty"`
	OS        string `json:"os"`
	// OSVersion is the kernel version (build + revision) on Windows.
	OSVersion    string    `json:"osVersion,omitempty"`
	Build        int       `json:"build,omitempty"`
	Revision     int       `json:"revision,omitempty"`
	OSImage      string    `json:"osImage"`
	AMI          string    `json:"ami,omitempty"`
	AMISource    string    `json:"amiSource"`
	Kubelet      string    `json:"kubelet"`
	Containerd   string    `json:"containerd"`
	InstanceType string    `json:"instanceType,omitempty"`
	InstanceID   string    `json:"instanceID,omitempty"`
	Zone         string    `json:"zone,omitempty"`
	Arch         string    `json:"arch"`
	Created      time.Time `json:"created"`
	// ReadyAt is when the Ready condition last became True (zero if not).
	ReadyAt time.Time `json:"-"`
	// EphemeralStorage is the capacity kubelet reports for the node's root
	// file system (on Windows the C: volume), 0 when not reported.
	EphemeralStorage int64 `json:"ephemeralStorage,omitempty"`
	// Images are the names the node's kubelet reports in status.images
	// (capped at 50 by kubelet), with their reported sizes.
	Images map[string]int64 `json:"-"`
	// TagDigests maps each repo:tag name in status.images to the digest of
	// the repo@digest name listed beside it: what the tag holds on the node.
	TagDigests map[string]string `json:"-"`
}

// AMI sources.
const (
	AMIFromLabel   = "label"
	AMIFromEC2     = "ec2"
	AMIUnknown     = "unknown: no eks.amazonaws.com/nodegroup-image label (Karpenter or self-managed node); --aws looks it up in EC2"
	AMINotOnAWS    = "unknown: providerID is not aws:///zone/instance-id"
	AMILookupError = "unknown: EC2 lookup failed"
)

// FromNode reads a Node object.
func FromNode(n *corev1.Node) Node {
	out := Node{
		Name:             n.Name,
		OS:               n.Status.NodeInfo.OperatingSystem,
		OSImage:          n.Status.NodeInfo.OSImage,
		Kubelet:          n.Status.NodeInfo.KubeletVersion,
		Containerd:       strings.TrimPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "containerd://"),
		EphemeralStorage: n.Status.Capacity.StorageEphemeral().Value(),
		InstanceType:     n.Labels[LabelInstanceType],
		Zone:             n.Labels[LabelZone],
		Arch:             n.Status.NodeInfo.Architecture,
		Created:          n.CreationTimestamp.Time,
	}
	if out.OS == "" {
		out.OS = n.Labels["kubernetes.io/os"]
	}
	switch {
	case n.Labels[LabelNodegroup] != "":
		out.Group, out.GroupKind = n.Labels[LabelNodegroup], "managed"
	case n.Labels[LabelNodepool] != "":
		out.Group, out.GroupKind = n.Labels[LabelNodepool], "karpenter"
	case n.Labels[LabelEksctlGroup] != "":
		out.Group, out.GroupKind = n.Labels[LabelEksctlGroup], "selfManaged"
	}
	if out.OS == "windows" {
		out.OSVersion = n.Status.NodeInfo.KernelVersion
		if v, err := osbuild.Parse(out.OSVersion); err == nil {
			out.Build, out.Revision = v.Build, v.Revision
		}
	}
	out.InstanceID = InstanceID(n.Spec.ProviderID)
	if ami := n.Labels[LabelNodegroupImage]; ami != "" {
		out.AMI, out.AMISource = ami, AMIFromLabel
	} else if out.InstanceID == "" {
		out.AMISource = AMINotOnAWS
	} else {
		out.AMISource = AMIUnknown
	}
	if len(n.Status.Images) > 0 {
		out.Images = make(map[string]int64, 2*len(n.Status.Images))
		for _, img := range n.Status.Images {
			for _, name := range img.Names {
				out.Images[name] = img.SizeBytes
			}
			addTagDigests(&out, img.Names)
		}
	}
	return out
}

// addTagDigests records, for one status.images entry, the digest each tag
// name holds: CRI lists an image's repo:tag and repo@digest names
// together (its RepoTags and RepoDigests).
func addTagDigests(n *Node, names []string) {
	digests := map[string]string{}
	for _, name := range names {
		if repo, digest, ok := strings.Cut(name, "@"); ok {
			digests[repo] = digest
		}
	}
	for _, name := range names {
		if strings.Contains(name, "@") {
			continue
		}
		// The tag follows the last colon after the last slash (a host's
		// port comes before the first slash).
		slash := strings.LastIndex(name, "/")
		colon := strings.LastIndex(name, ":")
		if colon <= slash {
			continue
		}
		if d, ok := digests[name[:colon]]; ok {
			if n.TagDigests == nil {
				n.TagDigests = map[string]string{}
			}
			n.TagDigests[name] = d
		}
	}
}

// InstanceID is the EC2 instance id in a providerID aws:///zone/i-…, or "".
func InstanceID(providerID string) string {
	if !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	id := providerID[strings.LastIndex(providerID, "/")+1:]
	if !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}

// Group is the nodes that share group, AMI, OS version, kubelet and containerd.
type Group struct {
	Group      string   `json:"group,omitempty"`
	GroupKind  string   `json:"groupKind,omitempty"`
	AMI        string   `json:"ami,omitempty"`
	OSVersion  string   `json:"osVersion,omitempty"`
	Kubelet    string   `json:"kubelet"`
	Containerd string   `json:"containerd"`
	Nodes      []string `json:"nodes"`
}

// GroupNodes groups nodes by (group, AMI, OS version, kubelet, containerd),
// sorted by group then AMI.
func GroupNodes(nodes []Node) []Group {
	index := map[[5]string]int{}
	var groups []Group
	for _, n := range nodes {
		key := [5]string{n.Group, n.AMI, n.OSVersion, n.Kubelet, n.Containerd}
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, Group{Group: n.Group, GroupKind: n.GroupKind, AMI: n.AMI, OSVersion: n.OSVersion, Kubelet: n.Kubelet, Containerd: n.Containerd})
		}
		groups[i].Nodes = append(groups[i].Nodes, n.Name)
	}
	sort.SliceStable(groups, func(a, b int) bool {
		if groups[a].Group != groups[b].Group {
			return groups[a].Group < groups[b].Group
		}
		return groups[a].AMI < groups[b].AMI
	})
	return groups
}
