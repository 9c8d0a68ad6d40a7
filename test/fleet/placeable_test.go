package fleet

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func windowsNode(name string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/os": "windows", "eks.amazonaws.com/nodegroup": "ng-a"}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
			NodeInfo:    corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-eks-1a2b3c4"},
		},
	}
}

func unschedulablePod(name, cpu string) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: "apps/web:1"}
	if cpu != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{WorkloadLabel: "web"}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/os": "windows", "eks.amazonaws.com/nodegroup": "ng-a"},
			Tolerations:  []corev1.Toleration{{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}},
			Containers:   []corev1.Container{c},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		}}},
	}
}

func TestPlaceableUsesTheSchedulersFilters(t *testing.T) {
	osTaint := corev1.Taint{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}
	notReady := corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}
	other := windowsNode("other")
	other.Labels["eks.amazonaws.com/nodegroup"] = "ng-b"
	cases := []struct {
		name string
		pod  *corev1.Pod
		node *corev1.Node
		want bool
	}{
		{"a tolerated taint", unschedulablePod("p", ""), windowsNode("n", osTaint), true},
		// A Ready node's not-ready taint is about to be lifted.
		{"the not-ready taint of a Ready node", unschedulablePod("p", ""), windowsNode("n", osTaint, notReady), true},
		{"an untolerated taint", unschedulablePod("p", ""), windowsNode("n", corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}), false},
		{"another group", unschedulablePod("p", ""), other, false},
		{"fits the CPU", unschedulablePod("p", "4"), windowsNode("n"), true},
		{"more CPU than the node has", unschedulablePod("p", "5000"), windowsNode("n"), false},
	}
	for _, c := range cases {
		if got := placeable(c.pod, []corev1.Node{*c.node}); got != c.want {
			t.Errorf("%s: placeable = %v, want %v", c.name, got, c.want)
		}
	}
}

// The CI failure this guards against: the scheduler marked a pod
// Unschedulable while its node still had the not-ready taint; WaitSettled
// took that as settled and the audit ran before the pod was bound.
func TestWaitSettledWaitsForAPodTheSchedulerWillRetry(t *testing.T) {
	f := &Fleet{NodeGroups: []NodeGroup{{Name: "ng-a", Kind: "managed", Count: 1}}, Workloads: []Workload{{Name: "web", Replicas: 1}}}
	applied := &Applied{Nodes: map[string][]string{"ng-a": {"n"}}}
	client := fake.NewSimpleClientset(windowsNode("n"), unschedulablePod("web-1", ""))
	err := WaitSettled(context.Background(), client, f, applied, 600*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "web-1 is Pending") {
		t.Fatalf("WaitSettled = %v, want it to wait for the pod a Ready node would take", err)
	}

	// A pod no node can take is settled.
	client = fake.NewSimpleClientset(windowsNode("n"), unschedulablePod("web-1", "5000"))
	if err := WaitSettled(context.Background(), client, f, applied, 600*time.Millisecond); err != nil {
		t.Fatalf("WaitSettled = %v for a pod no node can take", err)
	}
}
