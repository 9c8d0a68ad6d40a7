// Package taint removes the daemon's startup taint from its node once warm
// has done what it can, so workloads that waited for a warm node can land.
package taint

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Remove drops every taint with key from the node and reports whether
// there was one; a node without it is left untouched.
func Remove(ctx context.Context, client kubernetes.Interface, nodeName, key string) (removed bool, err error) {
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		removed = false
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		kept := make([]corev1.Taint, 0, len(node.Spec.Taints))
		for _, t := range node.Spec.Taints {
			if t.Key != key {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = kept
		if _, err = client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return err
		}
		removed = true
		return nil
	})
	return removed, err
}
