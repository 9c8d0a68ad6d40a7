package warm

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestStartupTaintsAreDroppedFromTheNodesThatCarryThem(t *testing.T) {
	ours := map[string]string{PartOfLabel: PartOf}
	client := fake.NewSimpleClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "winimage-system", Labels: ours, Annotations: map[string]string{StartupTaintAnnotation: "winimage.io/warming"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other", Annotations: map[string]string{StartupTaintAnnotation: "not/ours"}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "tainted"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: "winimage.io/warming", Effect: corev1.TaintEffectNoSchedule}, {Key: "winimage.io/warming", Effect: corev1.TaintEffectNoExecute},
			{Key: "dedicated", Value: "windows", Effect: corev1.TaintEffectNoSchedule}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "warm"}},
	)
	ctx := t.Context()
	keys, err := StartupTaints(ctx, client)
	if err != nil || !slices.Equal(keys, []string{"winimage.io/warming"}) {
		t.Fatalf("StartupTaints = %v, %v; want only the key on warm's own namespace", keys, err)
	}
	if len(StartupTaintNeeds(nil)) != 0 || len(StartupTaintNeeds(keys)) == 0 {
		t.Errorf("node rights are needed exactly when a taint was recorded")
	}
	var dropped []string
	if err := DropStartupTaints(ctx, client, keys, func(node, key string) { dropped = append(dropped, node+" "+key) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dropped, []string{"tainted winimage.io/warming"}) {
		t.Errorf("dropped %v", dropped)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "tainted", metav1.GetOptions{})
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints left %+v; want only the one warm did not record", n.Spec.Taints)
	}
}
