package warm

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"

	"github.com/winimage-io/kubectl-winimage/daemon/report"
	daemonwarm "github.com/winimage-io/kubectl-winimage/daemon/warm"
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
	Node       string                  `json:"node"`
	Build      string                  `json:"build,omitempty"`
	Pod        string                  `json:"pod,omitempty"`
	State      string                  `json:"state"`
	Ready      int                     `json:"ready"`
	Total      int                     `json:"total"`
	BytesDone  int64                   `json:"bytesDone"`
	BytesTotal int64                   `json:"bytesTotal"`
	Failures   []daemonwarm.ImageState `json:"failures,omitempty"`
	Images     []daemonwarm.ImageState `json:"images,omitempty"`
	Updated    *metav1.Time            `json:"updated,omitempty"`
	Age        string                  `json:"age,omitempty"`
}

// Summary counts nodes by state.
type Summary struct {
	Nodes    int `json:"nodes"`
	Ready    int `json:"ready"`
	Warming  int `json:"warming"`
	Failed   int `json:"failed"`
	NoDaemon int `json:"noDaemon"`
}

// Status reads every selected node and its daemon pod's progress. Nodes the
// DaemonSet should cover but that have no daemon pod are listed too.
func Status(ctx context.Context, client kubernetes.Interface, namespace, nodeSelector string, now time.Time) (*StatusReport, error) {
	r := &StatusReport{TypeMeta: metav1.TypeMeta{APIVersion: "winimage.io/v1alpha1", Kind: "WarmStatus"}, Namespace: namespace, Nodes: []NodeStatus{}}
	byNode := map[string]*NodeStatus{}
	err := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		opts.LabelSelector = nodeSelector
		return client.CoreV1().Nodes().List(ctx, opts)
	}).EachListItem(ctx, metav1.ListOptions{Limit: 500}, func(obj runtime.Object) error {
		n := obj.(*corev1.Node)
		byNode[n.Name] = &NodeStatus{Node: n.Name, Build: n.Status.NodeInfo.KernelVersion, State: NodeNoDaemon}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		opts.LabelSelector = ComponentLabel + "=daemon," + PartOfLabel + "=" + PartOf
		return client.CoreV1().Pods(namespace).List(ctx, opts)
	}).EachListItem(ctx, metav1.ListOptions{Limit: 500}, func(obj runtime.Object) error {
		p := obj.(*corev1.Pod)
		ns := byNode[p.Spec.NodeName]
		if ns == nil {
			return nil
		}
		ns.Pod, ns.State = p.Name, NodeStarting
		ns.Age = shortAge(now.Sub(p.CreationTimestamp.Time))
		raw := p.Annotations[report.AnnotationProgress]
		if raw == "" {
			return nil
		}
		var prog report.Progress
		if err := json.Unmarshal([]byte(raw), &prog); err != nil {
			return nil
		}
		ns.Ready, ns.Total = prog.Ready, prog.Total
		t := metav1.NewTime(prog.Updated)
		ns.Updated = &t
		ns.Images = prog.Images
		for _, img := range prog.Images {
			ns.BytesDone += img.BytesDone
			ns.BytesTotal += img.BytesTotal
			if img.State == daemonwarm.Failed || img.State == daemonwarm.Skipped {
				ns.Failures = append(ns.Failures, img)
			}
		}
		switch {
		case prog.AllReady():
			ns.State = NodeReady
		case prog.Done:
			ns.State = NodeFailed
		default:
			ns.State = NodeWarming
		}
		return nil
	})
	if err != nil {
		return nil, err
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
	return r, nil
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
