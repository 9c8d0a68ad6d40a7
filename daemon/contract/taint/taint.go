// Package taint removes the daemon's startup taint from its node once warm
// has done what it can, so workloads that waited for a warm node can land.
package taint

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Remove drops every taint with key from the node and reports whether
// there was one; a node without it is left untouched. It sends a JSON
// patch of spec.taints alone, guarded by a test of the taints it read, so
// it can neither rewrite the rest of the Node nor drop a taint someone
// added meanwhile (the test fails and the removal is tried again). The
// daemon needs only patch on nodes, and the own-node admission policy
// still judges the result.
func Remove(ctx context.Context, client kubernetes.Interface, nodeName, key string) (removed bool, err error) {
	err = retry.OnError(retry.DefaultRetry, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsInvalid(err)
	}, func() error {
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
		patch, err := json.Marshal([]map[string]any{
			{"op": "test", "path": "/spec/taints", "value": node.Spec.Taints},
			{"op": "replace", "path": "/spec/taints", "value": kept},
		})
		if err != nil {
			return err
		}
		if _, err = client.CoreV1().Nodes().Patch(ctx, nodeName, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
			return err
		}
		removed = true
		return nil
	})
	return removed, err
}
