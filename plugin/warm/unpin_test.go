package warm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func renderedDaemonSet(t *testing.T, os string) *appsv1.DaemonSet {
	t.Helper()
	objs, err := Render(Config{Namespace: "winimage-system", OS: os, DaemonImage: "r.example/winimage-daemon:v1", Images: []string{"r.example/a:1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "DaemonSet" {
			data, _ := o.MarshalJSON()
			var ds appsv1.DaemonSet
			if err := json.Unmarshal(data, &ds); err != nil {
				t.Fatal(err)
			}
			return &ds
		}
	}
	t.Fatal("no DaemonSet rendered")
	return nil
}

func TestUnpinModeKeepsTheNodeSideAndDropsTheProbe(t *testing.T) {
	for _, goos := range []string{"windows", "linux"} {
		ds := renderedDaemonSet(t, goos)
		before := ds.DeepCopy()
		if ds.Spec.Template.Labels[contract.ModeLabel] != contract.ModeWarm {
			t.Fatalf("%s: rendered mode label %q", goos, ds.Spec.Template.Labels[contract.ModeLabel])
		}
		if err := UnpinMode(ds, false); err != nil {
			t.Fatal(err)
		}
		c := ds.Spec.Template.Spec.Containers[0]
		if strings.Join(c.Command[1:], " ") != "unpin --report --hold" || c.Command[0] != before.Spec.Template.Spec.Containers[0].Command[0] {
			t.Errorf("%s: command %v", goos, c.Command)
		}
		if c.ReadinessProbe != nil || !inUnpinMode(ds) {
			t.Errorf("%s: probe %v, unpin mode %v", goos, c.ReadinessProbe, inUnpinMode(ds))
		}
		if len(c.VolumeMounts) != len(before.Spec.Template.Spec.Containers[0].VolumeMounts) || ds.Spec.Template.Spec.ServiceAccountName != before.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("%s: node-side settings changed", goos)
		}
	}
	other := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Command: []string{"nginx"}}}}}}}
	if err := UnpinMode(other, true); err == nil {
		t.Error("switched a DaemonSet that does not run the daemon")
	}
}

func TestUnpinWaitsForEveryNodeAndTimesOutWithoutDeleting(t *testing.T) {
	ds := renderedDaemonSet(t, "linux")
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2}
	pod := func(name, node string, res *contract.UnpinResult) *corev1.Pod {
		p := daemonPod(name, node, nil)
		p.Labels[contract.ModeLabel] = contract.ModeUnpin
		if res != nil {
			b, _ := json.Marshal(res)
			p.Annotations = map[string]string{contract.AnnotationUnpin: string(b)}
		}
		return p
	}
	client := fake.NewSimpleClientset(ds, pod("u1", "n1", &contract.UnpinResult{Node: "n1", Unpinned: []string{"a"}}), pod("u2", "n2", nil))
	var seen []string
	_, err := Unpin(t.Context(), client, "winimage-system", false, 1500*time.Millisecond, func(r contract.UnpinResult) { seen = append(seen, r.Node) })
	if err == nil || !strings.Contains(err.Error(), "waiting: n2") || !strings.Contains(err.Error(), "nothing was deleted") {
		t.Fatalf("one node silent: %v", err)
	}
	live, _ := client.AppsV1().DaemonSets("winimage-system").Get(t.Context(), DaemonName, metav1.GetOptions{})
	if !inUnpinMode(live) {
		t.Error("the DaemonSet was not switched to unpin mode")
	}

	b, _ := json.Marshal(contract.UnpinResult{Node: "n2"})
	p2, _ := client.CoreV1().Pods("winimage-system").Get(t.Context(), "u2", metav1.GetOptions{})
	p2.Annotations = map[string]string{contract.AnnotationUnpin: string(b)}
	if _, err := client.CoreV1().Pods("winimage-system").Update(t.Context(), p2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	seen = nil
	p, err := Unpin(t.Context(), client, "winimage-system", false, 5*time.Second, func(r contract.UnpinResult) { seen = append(seen, r.Node) })
	if err != nil || len(p.Done) != 2 || len(seen) != 2 {
		t.Fatalf("both nodes reported: %v %+v %v", err, p, seen)
	}
}
