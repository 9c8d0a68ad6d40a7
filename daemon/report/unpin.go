package report

import (
	"context"
	"encoding/json"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// AnnotationUnpin holds the JSON UnpinResult on an unpin pod, which is how
// `warm remove --unpin` learns each node is done.
const AnnotationUnpin = "winimage.io/unpin"

// UnpinResult is what the unpin mode did on one node.
type UnpinResult struct {
	Node     string    `json:"node"`
	Unpinned []string  `json:"unpinned"`
	Removed  []string  `json:"removed,omitempty"`
	Error    string    `json:"error,omitempty"`
	Finished time.Time `json:"finished"`
}

// PublishUnpin writes r on the pod, retrying conflicts and brief outages.
func PublishUnpin(ctx context.Context, client kubernetes.Interface, namespace, pod string, r UnpinResult) error {
	full, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return retry.OnError(retry.DefaultBackoff, func(error) bool { return ctx.Err() == nil }, func() error {
		return annotatePod(ctx, client, namespace, pod, AnnotationUnpin, string(full))
	})
}

// annotatePod sets one annotation on a pod with a merge patch, which needs
// no resourceVersion and touches nothing else.
func annotatePod(ctx context.Context, client kubernetes.Interface, namespace, pod, key, value string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Pods(namespace).Patch(ctx, pod, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
