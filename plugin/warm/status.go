package warm

import (
	"context"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
)

// Node states in a status report.
const (
	NodeReady    = "Ready"
	NodeWarming  = "Warming"
	NodeFailed   = "Failed"
	NodeNoDaemon = "NoDaemon"
	NodeStarting = "Starting"
)

// StatusReport is what `warm status -o json|yaml` prints.
type StatusReport struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string       `json:"namespace"`
	Nodes           []NodeStatus `json:"nodes"`
	Summary         Summary      `json:"summary"`
}

// DeepCopyObject lets cli-runtime printers print the report.
func (r *StatusReport) DeepCopyObject() runtime.Object { c := *r; return &c }

// NodeStatus is one selected node.
type NodeStatus struct {
	Node       string                `json:"node"`
	Build      string                `json:"build,omitempty"`
	Pod        string                `json:"pod,omitempty"`
	State      string                `json:"state"`
	Ready      int                   `json:"ready"`
	Total      int                   `json:"total"`
	BytesDone  int64                 `json:"bytesDone"`
	BytesTotal int64                 `json:"bytesTotal"`
	Failures   []contract.ImageState `json:"failures,omitempty"`
	// Warnings the daemon raised about the node (e.g. pins not honoured).
	Warnings []string              `json:"warnings,omitempty"`
	Images   []contract.ImageState `json:"images,omitempty"`
	Updated  *metav1.Time          `json:"updated,omitempty"`
	Age      string                `json:"age,omitempty"`
}

// Summary counts nodes by state.
type Summary struct {
	Nodes    int `json:"nodes"`
	Ready    int `json:"ready"`
	Warming  int `json:"warming"`
	Failed   int `json:"failed"`
	NoDaemon int `json:"noDaemon"`
}

// Status lists every selected node, the daemon pods and the wanted image
// list, and assembles the report. Nodes the DaemonSet should cover but that
// have no daemon pod are listed too. The three reads run at once: they are
// independent, and over 10,000 nodes each list is mostly waiting on the API
// server.
func Status(ctx context.Context, client kubernetes.Interface, namespace, nodeSelector string, now time.Time) (*StatusReport, error) {
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	var cm *corev1.ConfigMap
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = nodeSelector
			return client.CoreV1().Nodes().List(ctx, opts)
		}).EachListItem(ctx, metav1.ListOptions{Limit: 500}, func(obj runtime.Object) error {
			nodes = append(nodes, obj.(*corev1.Node))
			return nil
		})
	})
	g.Go(func() error {
		return pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = DaemonPodSelector
			return client.CoreV1().Pods(namespace).List(ctx, opts)
		}).EachListItem(ctx, metav1.ListOptions{Limit: 500}, func(obj runtime.Object) error {
			pods = append(pods, obj.(*corev1.Pod))
			return nil
		})
	})
	g.Go(func() error {
		var err error
		cm, err = client.CoreV1().ConfigMaps(namespace).Get(ctx, contract.ConfigMapName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm, err = nil, nil
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return Assemble(namespace, nodes, pods, imagelist.Wanted(cm), now), nil
}

// DaemonPodSelector selects the warming daemon's pods.
const DaemonPodSelector = ComponentLabel + "=daemon," + PartOfLabel + "=" + PartOf

// Assemble builds the report from objects already at hand (listed, or from
// informer caches). When want is known, a daemon that still reports another
// list (it has not seen the ConfigMap change yet) counts as warming, and
// only the wanted images are counted.
func Assemble(namespace string, nodes []*corev1.Node, pods []*corev1.Pod, want []string, now time.Time) *StatusReport {
	r := &StatusReport{TypeMeta: metav1.TypeMeta{APIVersion: "winimage.io/v1alpha1", Kind: "WarmStatus"}, Namespace: namespace, Nodes: []NodeStatus{}}
	byNode := make(map[string]*NodeStatus, len(nodes))
	for _, n := range nodes {
		byNode[n.Name] = &NodeStatus{Node: n.Name, Build: n.Status.NodeInfo.KernelVersion, State: NodeNoDaemon}
	}
	for _, p := range pods {
		if ns := byNode[p.Spec.NodeName]; ns != nil && p.DeletionTimestamp == nil {
			fillFromPod(ns, p, want, now)
		}
	}
	for _, ns := range byNode {
		r.Nodes = append(r.Nodes, *ns)
		r.Summary.Nodes++
		switch ns.State {
		case NodeReady:
			r.Summary.Ready++
		case NodeFailed:
			r.Summary.Failed++
		case NodeNoDaemon:
			r.Summary.NoDaemon++
		default:
			r.Summary.Warming++
		}
	}
	sort.Slice(r.Nodes, func(i, j int) bool { return r.Nodes[i].Node < r.Nodes[j].Node })
	return r
}

func fillFromPod(ns *NodeStatus, p *corev1.Pod, want []string, now time.Time) {
	ns.Pod, ns.State = p.Name, NodeStarting
	ns.Age = shortAge(now.Sub(p.CreationTimestamp.Time))
	raw := p.Annotations[contract.AnnotationProgress]
	if raw == "" {
		return
	}
	prog, err := contract.ParseProgress(raw)
	if err != nil {
		// The node wrote something unreadable: say so, not "starting".
		ns.Warnings = []string{"progress unreadable: " + err.Error()}
		return
	}
	t := metav1.NewTime(prog.Updated)
	ns.Updated = &t
	ns.Warnings = prog.Warnings
	images, current := prog.Images, true
	switch {
	case want != nil && prog.Omitted() == 0:
		images, current = selectWanted(prog.Images, want)
	case want != nil:
		// The node left some images out to fit its annotation: it reports
		// on the wanted list when it counts as many images.
		current = prog.Total == len(want) && len(prog.Images)+prog.Omitted() == len(want) && allWanted(prog.Images, want)
	}
	ns.Images = images
	ns.Total = len(images) + prog.Omitted()
	ns.Ready = prog.OmittedReady
	for _, img := range images {
		ns.BytesDone += img.BytesDone
		ns.BytesTotal += img.BytesTotal
		switch img.State {
		case contract.Ready:
			ns.Ready++
		case contract.Failed, contract.Skipped:
			ns.Failures = append(ns.Failures, img)
		}
	}
	switch {
	case !current:
		ns.State = NodeWarming
	case prog.Done && ns.Ready == ns.Total:
		ns.State = NodeReady
	case prog.Done:
		ns.State = NodeFailed
	default:
		ns.State = NodeWarming
	}
}

// allWanted reports whether every reported image is on the wanted list.
func allWanted(reported []contract.ImageState, want []string) bool {
	wanted := make(map[string]bool, len(want))
	for _, ref := range want {
		wanted[ref] = true
	}
	for _, img := range reported {
		if !wanted[img.Ref] {
			return false
		}
	}
	return true
}

// selectWanted returns the reported states of the wanted images, in the
// wanted order (Pending for one not reported yet), and whether the report
// covers exactly the wanted list.
func selectWanted(reported []contract.ImageState, want []string) ([]contract.ImageState, bool) {
	byRef := make(map[string]contract.ImageState, len(reported))
	for _, img := range reported {
		byRef[img.Ref] = img
	}
	current := len(reported) == len(want)
	out := make([]contract.ImageState, 0, len(want))
	for _, ref := range want {
		img, ok := byRef[ref]
		if !ok {
			img, current = contract.ImageState{Ref: ref, State: contract.Pending}, false
		}
		out = append(out, img)
	}
	return out, current
}

func shortAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Hour).String()
}
