package warm

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// kinds warm creates, deleted in this order (workload first, namespace last).
var kinds = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Version: "v1", Kind: "ConfigMap"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicyBinding"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingAdmissionPolicy"},
	// The namespace goes last, taking the daemons' pull-slot Leases with it.
	{Version: "v1", Kind: "Namespace"},
}

// Remove deletes every object carrying the part-of label, in every
// namespace, and returns what it deleted as Kind/namespace/name.
func Remove(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper) ([]string, error) {
	var deleted []string
	selector := PartOfLabel + "=" + PartOf
	for _, gvk := range kinds {
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return deleted, err
		}
		list, err := client.Resource(mapping.Resource).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return deleted, fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for _, item := range list.Items {
			res := dynamic.ResourceInterface(client.Resource(mapping.Resource))
			if ns := item.GetNamespace(); ns != "" {
				res = client.Resource(mapping.Resource).Namespace(ns)
			}
			policy := metav1.DeletePropagationForeground
			if err := res.Delete(ctx, item.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("delete %s %s: %w", gvk.Kind, item.GetName(), err)
			}
			deleted = append(deleted, strings.Trim(gvk.Kind+"/"+item.GetNamespace()+"/"+item.GetName(), "/"))
		}
	}
	return deleted, nil
}

// Leftovers lists objects with the part-of label that still exist,
// including those being deleted (a finalizer can hold them), to verify a
// removal: only when nothing is listed is everything gone.
func Leftovers(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper) ([]string, error) {
	var left []string
	for _, gvk := range kinds {
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, err
		}
		list, err := client.Resource(mapping.Resource).List(ctx, metav1.ListOptions{LabelSelector: PartOfLabel + "=" + PartOf})
		if err != nil {
			return nil, err
		}
		for _, item := range list.Items {
			left = append(left, gvk.Kind+" "+item.GetName())
		}
	}
	return left, nil
}
