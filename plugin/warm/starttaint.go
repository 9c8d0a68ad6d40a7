package warm

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/access"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/taint"
)

// StartupTaints returns the --startup-taint keys recorded on warm's
// namespaces. Once warm is removed no daemon will drop them, and a node
// still carrying one (its daemon was deleted mid-warm, or never started)
// would take no workload again.
func StartupTaints(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: PartOfLabel + "=" + PartOf})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var keys []string
	for _, ns := range list.Items {
		if k := ns.Annotations[StartupTaintAnnotation]; k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// StartupTaintNeeds is what DropStartupTaints uses.
func StartupTaintNeeds(keys []string) []access.Need {
	if len(keys) == 0 {
		return nil
	}
	why := "to drop the startup taint no daemon will remove any more"
	return []access.Need{
		{Verb: "list", Resource: "nodes", Why: why},
		{Verb: "get", Resource: "nodes", Why: why},
		{Verb: "patch", Resource: "nodes", Why: why},
	}
}

// DropStartupTaints removes every taint with one of keys from every node,
// as the daemon would have once warm (taint.Remove, the daemon's own), and
// calls dropped for each.
func DropStartupTaints(ctx context.Context, client kubernetes.Interface, keys []string, dropped func(node, key string)) error {
	if len(keys) == 0 {
		return nil
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		for _, key := range keys {
			if !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key }) {
				continue
			}
			if _, err := taint.Remove(ctx, client, n.Name, key); err != nil {
				return fmt.Errorf("node %s: drop the startup taint %s: %w", n.Name, key, err)
			}
			dropped(n.Name, key)
		}
	}
	return nil
}
