package report

import (
	"context"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// PublishUnpin writes r on the pod, retrying conflicts and brief outages.
func PublishUnpin(ctx context.Context, client kubernetes.Interface, namespace, pod string, r contract.UnpinResult) error {
	full, err := json.Marshal(r.Fit())
	if err != nil {
		return err
	}
	return retry.OnError(retry.DefaultBackoff, func(error) bool { return ctx.Err() == nil }, func() error {
		return annotatePod(ctx, client, namespace, pod, contract.AnnotationUnpin, string(full))
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
