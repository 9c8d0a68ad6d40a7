package report

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func TestPublishUnpinAnnotatesThePod(t *testing.T) {
	client := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "u1", Namespace: "ns",
		Annotations: map[string]string{"other": "kept"}}})
	in := contract.UnpinResult{Node: "n1", Unpinned: []string{"docker.io/library/a:1"}, Finished: time.Unix(1, 0).UTC()}
	if err := PublishUnpin(t.Context(), client, "ns", "u1", in); err != nil {
		t.Fatal(err)
	}
	pod, _ := client.CoreV1().Pods("ns").Get(t.Context(), "u1", metav1.GetOptions{})
	var out contract.UnpinResult
	if err := json.Unmarshal([]byte(pod.Annotations[contract.AnnotationUnpin]), &out); err != nil {
		t.Fatal(err)
	}
	if out.Node != "n1" || len(out.Unpinned) != 1 || pod.Annotations["other"] != "kept" {
		t.Errorf("annotations %v", pod.Annotations)
	}
}
