package warm

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// owned is one kind warm creates and the names it gives objects of it.
type owned struct {
	gvk   schema.GroupVersionKind
	names []string
}

// ownedKinds are what warm creates, deleted in this order (workload first,
// the policies after the RBAC they narrow, the namespace last). remove goes
// by these names, never by a label alone: a label anyone can copy onto a
// ConfigMap of theirs is no licence to delete it, and asking by name lets
// the operator's role pin every delete with resourceNames.
var ownedKinds = []owned{
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, []string{DaemonName}},
	{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, []string{contract.ConfigMapName}},
	{schema.GroupVersionKind{Group: rbacv1.GroupName, Version: "v1", Kind: "RoleBinding"}, []string{DaemonName}},
	{schema.GroupVersionKind{Group: rbacv1.GroupName, Version: "v1", Kind: "Role"}, []string{DaemonName}},
	{schema.GroupVersionKind{Group: rbacv1.GroupName, Version: "v1", Kind: "ClusterRoleBinding"}, []string{DaemonName}},
	{schema.GroupVersionKind{Group: rbacv1.GroupName, Version: "v1", Kind: "ClusterRole"}, []string{DaemonName}},
	{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, []string{DaemonName}},
	{schema.GroupVersionKind{Group: admissionregistrationv1.GroupName, Version: "v1", Kind: "ValidatingAdmissionPolicyBinding"}, PolicyNames},
	{schema.GroupVersionKind{Group: admissionregistrationv1.GroupName, Version: "v1", Kind: "ValidatingAdmissionPolicy"}, PolicyNames},
}

// PolicyNames are the admission policies (and bindings) warm may create.
var PolicyNames = []string{OwnPodPolicyName, NodeEventsPolicyName, OwnNodePolicyName}

// found is one object of warm's that exists.
type found struct {
	kind, namespace, name string
	res                   dynamic.ResourceInterface
	terminating           bool
}

func (f found) String() string { return strings.Trim(f.kind+"/"+f.namespace+"/"+f.name, "/") }

// ownObjects finds every object warm created: its namespaces are those
// carrying the part-of label (warm labels only a namespace it created,
// ClaimNamespace), and in them and the cluster the known names, each only
// if it carries the label too.
func ownObjects(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper) ([]found, error) {
	nsRes := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	list, err := nsRes.List(ctx, metav1.ListOptions{LabelSelector: PartOfLabel + "=" + PartOf})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []found
	for _, o := range ownedKinds {
		mapping, err := mapper.RESTMapping(o.gvk.GroupKind(), o.gvk.Version)
		if err != nil {
			return nil, err
		}
		scopes := []string{""}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			scopes = scopes[:0]
			for _, ns := range list.Items {
				scopes = append(scopes, ns.GetName())
			}
		}
		for _, ns := range scopes {
			res := dynamic.ResourceInterface(client.Resource(mapping.Resource))
			if ns != "" {
				res = client.Resource(mapping.Resource).Namespace(ns)
			}
			for _, name := range o.names {
				obj, err := res.Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("get %s %s: %w", o.gvk.Kind, name, err)
				}
				if isOurs(obj) {
					out = append(out, found{kind: o.gvk.Kind, namespace: ns, name: name, res: res, terminating: obj.GetDeletionTimestamp() != nil})
				}
			}
		}
	}
	for _, ns := range list.Items {
		out = append(out, found{kind: "Namespace", name: ns.GetName(), res: nsRes, terminating: ns.GetDeletionTimestamp() != nil})
	}
	return out, nil
}

func isOurs(obj *unstructured.Unstructured) bool { return obj.GetLabels()[PartOfLabel] == PartOf }

// Remove deletes every object warm created (ownObjects) and returns what it
// deleted as Kind/namespace/name.
func Remove(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper) ([]string, error) {
	objs, err := ownObjects(ctx, client, mapper)
	if err != nil {
		return nil, err
	}
	var deleted []string
	for _, f := range objs {
		policy := metav1.DeletePropagationForeground
		if err := f.res.Delete(ctx, f.name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
			return deleted, fmt.Errorf("delete %s %s: %w", f.kind, f.name, err)
		}
		deleted = append(deleted, f.String())
	}
	return deleted, nil
}

// Leftovers lists warm's objects that still exist, including those being
// deleted (a finalizer can hold them), to verify a removal: only when
// nothing is listed is everything gone.
func Leftovers(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper) ([]string, error) {
	objs, err := ownObjects(ctx, client, mapper)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, f := range objs {
		left = append(left, f.kind+" "+f.name)
	}
	return left, nil
}
