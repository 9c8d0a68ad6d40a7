package startup

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestReaderPodReadsKubeletsTimestamps(t *testing.T) {
	sched, started := metav1.NewTime(t0), metav1.NewTime(t0.Add(7*time.Minute))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "u1"},
		Spec: corev1.PodSpec{NodeName: "n1", InitContainers: []corev1.Container{{Image: "tools/log:1"}},
			Containers: []corev1.Container{{Image: "web:1"}, {Image: "docker.io/library/web:1"}}},
		Status: corev1.PodStatus{
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: sched}},
			ContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0.Add(time.Minute))}}},
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{StartedAt: started}}},
			},
		},
	}
	r := NewReader()
	got, ok := r.Pod(p)
	if !ok || got.Name != "shop/web-1" || !got.Scheduled.Equal(t0) || !got.Started.Equal(started.Time) || got.Restarted {
		t.Fatalf("Pod = %+v, %v", got, ok)
	}
	// Both spellings of web:1 are one image, as CRI names it.
	if len(got.Images) != 2 || got.Images[0] != "docker.io/tools/log:1" || got.Images[1] != "docker.io/library/web:1" {
		t.Errorf("images = %v", got.Images)
	}
	p.Status.ContainerStatuses[0].RestartCount = 1
	if got, _ := r.Pod(p); !got.Restarted || !got.Started.IsZero() {
		t.Errorf("a restarted container's first start is unknown: %+v", got)
	}
	p.Status.ContainerStatuses = p.Status.ContainerStatuses[:1]
	if got, _ := r.Pod(p); !got.Started.IsZero() {
		t.Errorf("one container has not started: %+v", got)
	}
	p.Status.Conditions = nil
	if _, ok := r.Pod(p); ok {
		t.Error("a pod not yet scheduled was read")
	}
}

func TestReaderEventReadsBothPulledMessages(t *testing.T) {
	ev := func(msg string) *corev1.Event {
		return &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-1", UID: "u1"},
			Reason: "Pulled", Message: msg, Source: corev1.EventSource{Host: "n1"}, FirstTimestamp: metav1.NewTime(t0), Count: 2}
	}
	r := NewReader()
	got, ok := r.Event(ev(`Successfully pulled image "web:1" in 7m1s (8m2s including waiting). Image size: 5 bytes.`))
	if !ok || got.Present || got.Took != 8*time.Minute+2*time.Second || got.Image != "docker.io/library/web:1" || got.Count != 2 || got.PodUID != "u1" || got.Node != "n1" {
		t.Errorf("pulled: %+v, %v", got, ok)
	}
	got, ok = r.Event(ev(`Container image "web:1" already present on machine and can be accessed by the pod`))
	if !ok || !got.Present || got.Took != 0 || got.Image != "docker.io/library/web:1" {
		t.Errorf("present: %+v, %v", got, ok)
	}
	if _, ok := r.Event(ev(`Pulling image "web:1"`)); ok {
		t.Error("a Pulling message was read as a Pulled one")
	}
	node := ev(`Container image "web:1" already present on machine`)
	node.InvolvedObject.Kind = "Node"
	if _, ok := r.Event(node); ok {
		t.Error("an event about a node was read")
	}
}
