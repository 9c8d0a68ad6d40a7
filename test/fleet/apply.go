package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// KwokAnnotation marks the nodes kwok manages (the rig starts kwok with
// this selector); nodes played by the kubelet stand-in do not carry it.
const KwokAnnotation = "kwok.x-k8s.io/node"

// WorkloadLabel names the fleet workload a pod belongs to.
const WorkloadLabel = "fleet.winimage.io/workload"

// Applied is what Apply created.
type Applied struct {
	Catalog imagefixtures.Catalog
	// Nodes lists node names by group.
	Nodes map[string][]string
	// Endpoints are the kubelet endpoints to serve, by node name.
	Endpoints    map[string]KubeletEndpoint
	RegistryHost string
}

// Ref turns a fleet image reference into the one pods use: relative
// references are in the rig registry.
func (a *Applied) Ref(ref string) string { return resolveRef(a.RegistryHost, ref) }

func resolveRef(registryHost, ref string) string {
	first := strings.SplitN(ref, "/", 2)[0]
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return ref
	}
	return registryHost + "/" + ref
}

// Apply pushes the fleet's images to registryHost and creates its nodes,
// workloads and events through client.
func Apply(ctx context.Context, client kubernetes.Interface, registryHost string, f *Fleet) (*Applied, error) {
	applied := &Applied{Nodes: map[string][]string{}, RegistryHost: registryHost}
	var err error
	if applied.Catalog, err = imagefixtures.Push(ctx, registryHost, f.Images); err != nil {
		return nil, err
	}
	for gi, g := range f.NodeGroups {
		for i := 0; i < g.Count; i++ {
			name, err := createNode(ctx, client, gi, i, g)
			if err != nil {
				return nil, fmt.Errorf("node group %s: %w", g.Name, err)
			}
			applied.Nodes[g.Name] = append(applied.Nodes[g.Name], name)
			if g.KubeletEndpoint != nil {
				if applied.Endpoints == nil {
					applied.Endpoints = map[string]KubeletEndpoint{}
				}
				applied.Endpoints[name] = *g.KubeletEndpoint
			}
		}
	}
	// kwok's node-initialize writes nodeInfo defaults from its own copy of
	// the node; setting the EKS-shaped status before it has run races with it.
	var standIn []string
	for _, g := range f.NodeGroups {
		if g.StandIn {
			standIn = append(standIn, g.Name)
		}
	}
	if err := waitNodesReady(ctx, client, applied, standIn, 2*time.Minute); err != nil {
		return nil, err
	}
	for _, g := range f.NodeGroups {
		for _, name := range applied.Nodes[g.Name] {
			if err := setNodeStatus(ctx, client, applied, g, name); err != nil {
				return nil, fmt.Errorf("node %s: %w", name, err)
			}
			if g.ReadyAfter == "" {
				continue
			}
			after, err := time.ParseDuration(g.ReadyAfter)
			if err != nil {
				return nil, fmt.Errorf("node group %s readyAfter: %w", g.Name, err)
			}
			if err := setReadyAfter(ctx, client, name, after); err != nil {
				return nil, fmt.Errorf("node %s: %w", name, err)
			}
		}
	}
	for _, w := range f.Workloads {
		if err := createWorkload(ctx, client, applied, f, w); err != nil {
			return nil, fmt.Errorf("workload %s: %w", w.Name, err)
		}
	}
	for _, e := range f.PullEvents {
		if err := createPullEvents(ctx, client, applied, f, e); err != nil {
			return nil, fmt.Errorf("pull events for %s: %w", e.Image, err)
		}
	}
	for i, h := range f.StartHistory {
		if err := ApplyHistory(ctx, client, applied, i, h); err != nil {
			return nil, err
		}
	}
	return applied, nil
}

// NodeName is the EC2-style private DNS name of node i of group number gi.
func NodeName(gi, i int, zone string) string {
	return fmt.Sprintf("ip-10-0-%d-%d.%s.compute.internal", 10+gi, 10+i, region(zone))
}

func region(zone string) string {
	if zone == "" {
		return "us-east-2"
	}
	return strings.TrimRight(zone, "abcdefghijklmnopqrstuvwxyz")
}

func instanceID(nodeName string) string {
	sum := sha256.Sum256([]byte(nodeName))
	return fmt.Sprintf("i-%x", sum[:9])[:19]
}

func createNode(ctx context.Context, client kubernetes.Interface, gi, i int, g NodeGroup) (string, error) {
	zone := g.Zone
	if zone == "" {
		zone = "us-east-2a"
	}
	instanceType := g.InstanceType
	if instanceType == "" {
		instanceType = "m5.2xlarge"
	}
	name := NodeName(gi, i, zone)

	nodeLabels := map[string]string{
		"kubernetes.io/os":                 g.OS,
		"kubernetes.io/arch":               "amd64",
		"kubernetes.io/hostname":           name,
		"node.kubernetes.io/instance-type": instanceType,
		"topology.kubernetes.io/zone":      zone,
		"topology.kubernetes.io/region":    region(zone),
	}
	if g.OS == "windows" {
		// validate made sure the version parses.
		v, _ := osbuild.Parse(g.WindowsVersion)
		nodeLabels["node.kubernetes.io/windows-build"] = v.BuildString()
	}
	switch g.Kind {
	case Managed:
		nodeLabels["eks.amazonaws.com/nodegroup"] = g.Name
		nodeLabels["eks.amazonaws.com/capacityType"] = "ON_DEMAND"
		if g.AMI != "" {
			nodeLabels["eks.amazonaws.com/nodegroup-image"] = g.AMI
		}
	case Karpenter:
		nodeLabels["karpenter.sh/nodepool"] = g.Name
		nodeLabels["karpenter.sh/capacity-type"] = "on-demand"
		nodeLabels["karpenter.k8s.aws/instance-family"] = strings.SplitN(instanceType, ".", 2)[0]
	case SelfManaged:
		nodeLabels["alpha.eksctl.io/nodegroup-name"] = g.Name
	}
	annotations := map[string]string{KwokAnnotation: "fake"}
	if g.StandIn {
		annotations = nil
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      nodeLabels,
			Annotations: annotations,
		},
		Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///%s/%s", zone, instanceID(name))},
	}
	if g.OS == "windows" && !g.NoTaint {
		node.Spec.Taints = []corev1.Taint{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	}
	_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	return name, err
}

// setNodeStatus sets status.nodeInfo and status.images through the status
// subresource (the only way to set them), as an EKS node's kubelet reports.
func setNodeStatus(ctx context.Context, client kubernetes.Interface, applied *Applied, g NodeGroup, name string) error {
	id := instanceID(name)
	info := corev1.NodeSystemInfo{
		OperatingSystem:         g.OS,
		Architecture:            "amd64",
		KubeletVersion:          g.Kubelet,
		ContainerRuntimeVersion: "containerd://" + strings.TrimPrefix(orDefault(g.Containerd, "1.7.27"), "containerd://"),
		MachineID:               id,
		SystemUUID:              id,
		BootID:                  id,
	}
	if g.OS == "windows" {
		info.KernelVersion = g.WindowsVersion
		info.OSImage = osImage(g.WindowsVersion)
	} else {
		info.KernelVersion = "6.1.141-155.222.amzn2023.x86_64"
		info.OSImage = "Amazon Linux 2023.7.20250609"
	}
	images, err := nodeImages(applied, g)
	if err != nil {
		return err
	}
	status := map[string]any{"nodeInfo": info, "images": images}
	if g.StandIn {
		now := metav1.Now()
		status["conditions"] = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
		// Without capacity the scheduler places nothing here (kwok fills
		// these in for its own nodes).
		resources := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")}
		status["capacity"], status["allocatable"] = resources, resources
	}
	if g.EphemeralStorage != "" {
		q, err := resource.ParseQuantity(g.EphemeralStorage)
		if err != nil {
			return fmt.Errorf("ephemeralStorage: %w", err)
		}
		// A merge patch adds the key to what kwok (or the stand-in) set.
		for _, key := range []string{"capacity", "allocatable"} {
			list, _ := status[key].(corev1.ResourceList)
			if list == nil {
				list = corev1.ResourceList{}
			} else {
				list = list.DeepCopy()
			}
			list[corev1.ResourceEphemeralStorage] = q
			status[key] = list
		}
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// waitNodesReady waits for kwok to initialize its nodes (not the stand-in
// groups', which have no kwok).
func waitNodesReady(ctx context.Context, client kubernetes.Interface, applied *Applied, standInGroups []string, timeout time.Duration) error {
	want := map[string]bool{}
	for _, names := range applied.Nodes {
		for _, n := range names {
			want[n] = true
		}
	}
	for _, g := range standInGroups {
		for _, n := range applied.Nodes[g] {
			delete(want, n)
		}
	}
	var notReady int
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		notReady = len(want)
		for i := range nodes.Items {
			if want[nodes.Items[i].Name] && nodeReady(&nodes.Items[i]) {
				notReady--
			}
		}
		return notReady == 0, nil
	})
	if err != nil {
		return fmt.Errorf("%d fleet nodes never became Ready under kwok: %w", notReady, err)
	}
	return nil
}

// nodeImages is status.images as kubelet reports it: the repo@digest and
// repo:tag names and the size of the entry for this node's platform.
func nodeImages(applied *Applied, g NodeGroup) ([]corev1.ContainerImage, error) {
	var out []corev1.ContainerImage
	for _, ref := range g.CachedImages {
		full := applied.Ref(ref)
		if full == ref {
			out = append(out, corev1.ContainerImage{Names: []string{ref}})
			continue
		}
		pushed, entry, ok := applied.Catalog.Entry(ref, g.OS, buildNumber(g.WindowsVersion))
		if !ok {
			return nil, fmt.Errorf("cached image %s has no entry for %s %s", ref, g.OS, g.WindowsVersion)
		}
		repo := full[:strings.LastIndex(full, ":")]
		out = append(out, corev1.ContainerImage{
			Names:     []string{repo + "@" + pushed.IndexDigest, full},
			SizeBytes: entry.Size,
		})
	}
	return out, nil
}

func createWorkload(ctx context.Context, client kubernetes.Interface, applied *Applied, f *Fleet, w Workload) error {
	ns := orDefault(w.Namespace, "default")
	if err := ensureNamespace(ctx, client, ns); err != nil {
		return err
	}
	podLabels := map[string]string{WorkloadLabel: w.Name}
	spec := corev1.PodSpec{NodeSelector: map[string]string{}}
	osName := orDefault(w.OS, "windows")
	spec.NodeSelector["kubernetes.io/os"] = osName
	if osName == "windows" {
		spec.Tolerations = []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}}
	}
	if w.WindowsBuild != "" {
		spec.NodeSelector["node.kubernetes.io/windows-build"] = w.WindowsBuild
	}
	if w.NodeGroup != "" {
		for _, g := range f.NodeGroups {
			if g.Name != w.NodeGroup {
				continue
			}
			switch g.Kind {
			case Managed:
				spec.NodeSelector["eks.amazonaws.com/nodegroup"] = g.Name
			case Karpenter:
				spec.NodeSelector["karpenter.sh/nodepool"] = g.Name
			case SelfManaged:
				spec.NodeSelector["alpha.eksctl.io/nodegroup-name"] = g.Name
			}
		}
	}
	for i, img := range w.InitImages {
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: fmt.Sprintf("init%d", i), Image: applied.Ref(img), ImagePullPolicy: corev1.PullIfNotPresent})
	}
	for i, img := range w.Images {
		c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: applied.Ref(img), ImagePullPolicy: corev1.PullIfNotPresent}
		if w.CPU != nil && i == 0 {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: *w.CPU}
		}
		spec.Containers = append(spec.Containers, c)
	}
	for _, s := range w.PullSecrets {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	replicas := w.Replicas
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: ns, Labels: podLabels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}, Spec: spec},
		},
	}
	_, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	return err
}

func ensureNamespace(ctx context.Context, client kubernetes.Interface, ns string) error {
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// createPullEvents writes Pulled events with kubelet's exact message, so
// anything that parses real kubelet events parses these.
func createPullEvents(ctx context.Context, client kubernetes.Interface, applied *Applied, f *Fleet, e PullEvent) error {
	var group NodeGroup
	for _, g := range f.NodeGroups {
		if g.Name == e.NodeGroup {
			group = g
		}
	}
	nodes := applied.Nodes[e.NodeGroup]
	if len(nodes) == 0 {
		return fmt.Errorf("node group %s has no nodes", e.NodeGroup)
	}
	ns := orDefault(e.Namespace, "default")
	if err := ensureNamespace(ctx, client, ns); err != nil {
		return err
	}
	size := int64(0)
	if e.SizeBytes != nil {
		size = e.SizeBytes.Value()
	} else if _, entry, ok := applied.Catalog.Entry(e.Image, group.OS, buildNumber(group.WindowsVersion)); ok {
		size = entry.Size
	}
	ref := applied.Ref(e.Image)
	short := strings.NewReplacer("/", "-", ":", "-", ".", "-").Replace(e.Image)
	now := time.Now()
	for i, ds := range e.Durations {
		d, err := time.ParseDuration(ds)
		if err != nil {
			return err
		}
		node := nodes[i%len(nodes)]
		pod := fmt.Sprintf("%s-%d", strings.ToLower(short), i)
		at := now.Add(-time.Duration(len(e.Durations)-i) * time.Minute)
		involved := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: ns, Name: pod, FieldPath: "spec.containers{c0}"}
		if err := createKubeletEvent(ctx, client, involved, node, "Pulled", pulledMessage(ref, d, size), at); err != nil {
			return err
		}
	}
	return nil
}

// WaitSettled waits until every fleet node is Ready and every workload has
// all its pods, each either Running or reported unschedulable with no node
// that would take it.
func WaitSettled(ctx context.Context, client kubernetes.Interface, f *Fleet, applied *Applied, timeout time.Duration) error {
	var last string
	groups := map[string]NodeGroup{}
	for _, g := range f.NodeGroups {
		groups[g.Name] = g
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for group, names := range applied.Nodes {
			for _, n := range names {
				node, err := client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				if !nodeReady(node) {
					last = "node " + n + " not Ready"
					return false, nil
				}
				if strings.HasPrefix(node.Status.NodeInfo.KubeletVersion, "kwok") {
					// kwok's node-initialize stage ran again after the
					// status was set (seen under load): set it again.
					if err := setNodeStatus(ctx, client, applied, groups[group], n); err != nil {
						return false, err
					}
					last = "node " + n + " had lost its EKS nodeInfo to kwok's defaults; set again"
					return false, nil
				}
			}
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, w := range f.Workloads {
			ns := orDefault(w.Namespace, "default")
			pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(map[string]string{WorkloadLabel: w.Name}).String()})
			if err != nil {
				return false, err
			}
			if int32(len(pods.Items)) != w.Replicas {
				last = fmt.Sprintf("workload %s has %d/%d pods", w.Name, len(pods.Items), w.Replicas)
				return false, nil
			}
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning {
					continue
				}
				if !unschedulable(&p) || placeable(&p, nodes.Items) {
					last = fmt.Sprintf("pod %s/%s is %s", ns, p.Name, p.Status.Phase)
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("fleet not settled: %s: %w", last, err)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
