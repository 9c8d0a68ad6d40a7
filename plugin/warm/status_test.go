package warm

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/os": "windows"}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KernelVersion: "10.0.20348.2582"}}}
}

func daemonPod(name, nodeName string, p *contract.Progress) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "winimage-system",
		Labels: map[string]string{ComponentLabel: "daemon", PartOfLabel: PartOf}}, Spec: corev1.PodSpec{NodeName: nodeName}}
	if p != nil {
		b, _ := json.Marshal(p)
		pod.Annotations = map[string]string{contract.AnnotationProgress: string(b)}
	}
	return pod
}

func TestStatusStatesAndNodesWithoutDaemons(t *testing.T) {
	ready := &contract.Progress{Warnings: []string{"containerd 1.7.9 ignores the pin label"}, Snapshot: contract.Snapshot{Total: 2, Ready: 2, Done: true, Images: []contract.ImageState{
		{Ref: "a", State: contract.Ready, BytesDone: 1 << 20, BytesTotal: 1 << 20}, {Ref: "b", State: contract.Ready}}}}
	failed := &contract.Progress{Snapshot: contract.Snapshot{Total: 2, Ready: 1, Done: true, Images: []contract.ImageState{
		{Ref: "a", State: contract.Ready}, {Ref: "b", State: contract.Failed, Reason: "not found (404) in the registry"}}}}
	warming := &contract.Progress{Snapshot: contract.Snapshot{Total: 1, Images: []contract.ImageState{{Ref: "a", State: contract.Pulling, BytesDone: 5, BytesTotal: 10}}}}
	client := fake.NewSimpleClientset(node("n1"), node("n2"), node("n3"), node("n4"), node("n5"),
		daemonPod("d1", "n1", ready), daemonPod("d2", "n2", failed), daemonPod("d3", "n3", warming), daemonPod("d4", "n4", nil))
	r, err := Status(t.Context(), client, "winimage-system", "kubernetes.io/os=windows", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"n1": NodeReady, "n2": NodeFailed, "n3": NodeWarming, "n4": NodeStarting, "n5": NodeNoDaemon}
	for _, n := range r.Nodes {
		if n.State != want[n.Node] {
			t.Errorf("%s: %s, want %s", n.Node, n.State, want[n.Node])
		}
	}
	if s := r.Summary; s.Nodes != 5 || s.Ready != 1 || s.Failed != 1 || s.Warming != 2 || s.NoDaemon != 1 {
		t.Errorf("summary %+v", s)
	}
	var buf bytes.Buffer
	if err := PrintStatus(&buf, r, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "warning: node/n1: containerd 1.7.9 ignores the pin label") ||
		!strings.Contains(buf.String(), "b: not found (404) in the registry") || !strings.Contains(buf.String(), "5 nodes: 1 ready, 2 warming, 1 failed, 1 without a daemon pod") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestStatusCountsADaemonOnAnOldListAsWarming(t *testing.T) {
	old := &contract.Progress{Snapshot: contract.Snapshot{Total: 1, Ready: 1, Done: true, Images: []contract.ImageState{
		{Ref: "docker.io/library/a:1", State: contract.Ready}}}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: contract.ConfigMapName, Namespace: "winimage-system"},
		Data: map[string]string{contract.ImageListKey: "images:\n- ref: a:1\n- ref: b:2\n"}}
	client := fake.NewSimpleClientset(node("n1"), daemonPod("d1", "n1", old), cm)
	r, err := Status(t.Context(), client, "winimage-system", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := r.Nodes[0]
	if n.State != NodeWarming || n.Ready != 1 || n.Total != 2 || n.Images[1].Ref != "docker.io/library/b:2" || n.Images[1].State != contract.Pending {
		t.Errorf("a daemon still on the old list: %+v", n)
	}

	cm.Data[contract.ImageListKey] = "images:\n- ref: a:1\n"
	client = fake.NewSimpleClientset(node("n1"), daemonPod("d1", "n1", old), cm)
	if r, _ = Status(t.Context(), client, "winimage-system", "", time.Now()); r.Nodes[0].State != NodeReady {
		t.Errorf("a daemon on the current list: %+v", r.Nodes[0])
	}
}

// A node that writes an unreadable progress document shows a warning that
// says so, not a silent "starting".
func TestStatusWarnsOfAnUnreadableProgressDocument(t *testing.T) {
	pod := daemonPod("d1", "n1", nil)
	pod.Annotations = map[string]string{contract.AnnotationProgress: `{"images": "not a list"}`}
	r, err := Status(t.Context(), fake.NewSimpleClientset(node("n1"), pod), "winimage-system", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Nodes[0]; n.State != NodeStarting || len(n.Warnings) != 1 || !strings.HasPrefix(n.Warnings[0], "progress unreadable: annotation winimage.io/progress") {
		t.Errorf("unreadable progress: %+v", n)
	}
}

// A node that left images out of its document to fit the annotation still
// reads as the node it is: counted, and Ready only when all are.
func TestStatusOfANodeThatLeftImagesOut(t *testing.T) {
	want := []string{"r/a:1", "r/b:1", "r/c:1"}
	fitted := func(failed bool) contract.Progress {
		p := contract.Progress{Snapshot: contract.Snapshot{Total: 3, Ready: 3, Done: true, OmittedReady: 2, Images: []contract.ImageState{{Ref: "r/c:1", State: contract.Ready}}}}
		if failed {
			p.Ready, p.Images[0].State = 2, contract.Failed
		}
		return p
	}
	for _, c := range []struct {
		prog  contract.Progress
		state string
		ready int
	}{{fitted(false), NodeReady, 3}, {fitted(true), NodeFailed, 2}} {
		var ns NodeStatus
		pod := daemonPod("d1", "n1", &c.prog)
		fillFromPod(&ns, pod, want, time.Now())
		if ns.State != c.state || ns.Ready != c.ready || ns.Total != 3 {
			t.Errorf("%+v: %s %d/%d, want %s %d/3", c.prog.Images, ns.State, ns.Ready, ns.Total, c.state, c.ready)
		}
	}
	old := fitted(false)
	old.Images[0].Ref = "r/old:1"
	var ns NodeStatus
	fillFromPod(&ns, daemonPod("d1", "n1", &old), want, time.Now())
	if ns.State != NodeWarming {
		t.Errorf("a document about another list of as many images: %s", ns.State)
	}
}
