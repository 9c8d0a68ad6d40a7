package taint

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestRemoveDropsOnlyTheStartupTaint(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{
		{Key: "winimage.io/warming", Effect: corev1.TaintEffectNoSchedule},
		{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule},
	}}}
	client := fake.NewClientset(node)
	if removed, err := Remove(t.Context(), client, "n1", "winimage.io/warming"); err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	got, _ := client.CoreV1().Nodes().Get(t.Context(), "n1", metav1.GetOptions{})
	if len(got.Spec.Taints) != 1 || got.Spec.Taints[0].Key != "os" {
		t.Fatalf("taints after Remove: %+v", got.Spec.Taints)
	}
	// A patch of the taints alone, never the whole Node written back.
	for _, a := range client.Actions() {
		switch a := a.(type) {
		case k8stesting.PatchAction:
			if a.GetPatchType() != types.JSONPatchType || !strings.Contains(string(a.GetPatch()), `"path":"/spec/taints"`) || strings.Contains(string(a.GetPatch()), "/metadata") {
				t.Errorf("patch %s %s", a.GetPatchType(), a.GetPatch())
			}
		case k8stesting.UpdateAction:
			t.Errorf("the whole node was written back: %v", a)
		}
	}
}

func TestRemoveLeavesANodeWithoutTheTaintUntouched(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "os", Effect: corev1.TaintEffectNoSchedule}}}}
	client := fake.NewClientset(node)
	if removed, err := Remove(t.Context(), client, "n1", "winimage.io/warming"); err != nil || removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" || a.GetVerb() == "patch" {
			t.Fatalf("updated a node that had no such taint: %v", a)
		}
	}
}
