package warm

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/access"
)

// Preflight asks the API server, before anything is applied, whether the
// caller may apply every object, and names every permission missing, so
// that warm never leaves half an install behind (a namespace and a
// ServiceAccount, then a refused ClusterRoleBinding).
//
// Server-side apply takes patch, and create for an object not there yet.
// The daemon's roles and bindings also take what RBAC's escalation check
// asks: whoever creates a role must hold each of its permissions or have
// escalate on it, and whoever binds it must hold them or have bind on it
// (kubernetes v1.37.2 pkg/registry/rbac/validation/rule.go
// ConfirmNoEscalation; pkg/registry/rbac/escalation_check.go
// RoleEscalationAuthorized and BindingAuthorized, asked in the role's and
// the binding's namespace, as here).
//
// extra are further needs of the command (FollowNeeds for --wait).
func Preflight(ctx context.Context, reviews authorizationclient.SelfSubjectAccessReviewsGetter, mapper meta.RESTMapper, objs []*unstructured.Unstructured, extra ...access.Need) error {
	needs := append([]access.Need(nil), extra...)
	grants := map[string]*roleGrant{} // role kind/name → what it grants
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s: %w", gvk.Kind, err)
		}
		res, ns := mapping.Resource, ""
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns = obj.GetNamespace() // a cluster-scoped kind may carry one kustomize set
		}
		for _, verb := range []string{"create", "patch"} {
			needs = append(needs, access.Need{Verb: verb, Group: res.Group, Resource: res.Resource, Namespace: ns, Name: obj.GetName(), Why: "to apply it"})
		}
		switch gvk.Kind {
		case "ClusterRole", "Role":
			var role rbacv1.Role // a ClusterRole's rules read the same
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
				return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
			}
			grants[gvk.Kind+"/"+obj.GetName()] = &roleGrant{rules: ruleNeeds(role.Rules, obj.GetNamespace(), res.Resource+"/"+obj.GetName())}
		}
	}
	missing, err := access.Missing(ctx, reviews, needs)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		more, err := grantNeeds(ctx, reviews, obj, grants)
		if err != nil {
			return err
		}
		missing = append(missing, more...)
	}
	if len(missing) > 0 {
		return fmt.Errorf("warm needs permissions you lack, so nothing was applied: %s", access.Describe(dedupe(missing)))
	}
	return nil
}

// FollowNeeds is what following the daemons takes (warm --wait, warm
// status -w): Follow's informers list and watch nodes, and the pods and
// image-list ConfigMap in namespace.
func FollowNeeds(namespace string) []access.Need {
	var needs []access.Need
	for _, verb := range []string{"list", "watch"} {
		needs = append(needs,
			access.Need{Verb: verb, Resource: "nodes", Why: "to follow the nodes"},
			access.Need{Verb: verb, Resource: "pods", Namespace: namespace, Why: "to follow the daemons' progress"},
			access.Need{Verb: verb, Resource: "configmaps", Namespace: namespace, Name: contract.ConfigMapName, Why: "to follow the image list"})
	}
	return needs
}

// StatusNeeds is what warm status takes once: Status lists the nodes and
// the daemon pods in namespace and reads the image list.
func StatusNeeds(namespace string) []access.Need {
	return []access.Need{
		{Verb: "list", Resource: "nodes", Why: "to list the nodes"},
		{Verb: "list", Resource: "pods", Namespace: namespace, Why: "to read the daemons' progress"},
		{Verb: "get", Resource: "configmaps", Namespace: namespace, Name: contract.ConfigMapName, Why: "to read the image list"},
	}
}

// RemoveNeeds is what warm remove takes: list namespaces (warm's are
// labelled), get and delete each object warm creates by its name (in
// namespace, for the namespaced ones) and the namespace itself
// (ownObjects); with unpin, turning the DaemonSet in namespace to unpin
// mode and reading its pods (Unpin).
func RemoveNeeds(mapper meta.RESTMapper, namespace string, unpin bool) ([]access.Need, error) {
	why := "to remove what warm created"
	needs := []access.Need{{Verb: "list", Resource: "namespaces", Why: "to find warm's namespaces"}}
	if unpin {
		needs = append(needs,
			access.Need{Verb: "get", Group: "apps", Resource: "daemonsets", Namespace: namespace, Name: DaemonName, Why: "to turn it to unpin mode"},
			access.Need{Verb: "update", Group: "apps", Resource: "daemonsets", Namespace: namespace, Name: DaemonName, Why: "to turn it to unpin mode"},
			access.Need{Verb: "list", Resource: "pods", Namespace: namespace, Why: "to read each node's unpin result"})
	}
	for _, o := range ownedKinds {
		mapping, err := mapper.RESTMapping(o.gvk.GroupKind(), o.gvk.Version)
		if err != nil {
			return nil, err
		}
		ns := ""
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns = namespace
		}
		for _, name := range o.names {
			for _, verb := range []string{"get", "delete"} {
				needs = append(needs, access.Need{Verb: verb, Group: mapping.Resource.Group, Resource: mapping.Resource.Resource, Namespace: ns, Name: name, Why: why})
			}
		}
	}
	for _, verb := range []string{"get", "delete"} {
		needs = append(needs, access.Need{Verb: verb, Resource: "namespaces", Name: namespace, Why: why})
	}
	return needs, nil
}

// NamespaceNeeds is what ClaimNamespace takes.
func NamespaceNeeds(namespace string) []access.Need {
	return []access.Need{{Verb: "get", Resource: "namespaces", Name: namespace, Why: "to check warm created it"}}
}

// Require fails, naming every permission missing, when the caller lacks any
// of needs; what says what was therefore not done.
func Require(ctx context.Context, reviews authorizationclient.SelfSubjectAccessReviewsGetter, command, what string, needs []access.Need) error {
	missing, err := access.Missing(ctx, reviews, needs)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s needs permissions you lack, so %s: %s", command, what, access.Describe(dedupe(missing)))
	}
	return nil
}

// grantNeeds is what creating obj takes beyond applying it, if it is one of
// the daemon's roles or bindings: escalate (a role) or bind (a binding) on
// the role, or else every permission the role grants.
func grantNeeds(ctx context.Context, reviews authorizationclient.SelfSubjectAccessReviewsGetter, obj *unstructured.Unstructured, grants map[string]*roleGrant) ([]access.Need, error) {
	verb, kind, name := "escalate", obj.GetKind(), obj.GetName()
	switch kind {
	case "ClusterRoleBinding", "RoleBinding":
		var binding rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &binding); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, name, err)
		}
		verb, kind, name = "bind", binding.RoleRef.Kind, binding.RoleRef.Name
	case "ClusterRole", "Role":
	default:
		return nil, nil
	}
	g, ok := grants[kind+"/"+name]
	if !ok {
		return nil, nil // a role warm does not create: the API server decides
	}
	resource := map[string]string{"ClusterRole": "clusterroles", "Role": "roles"}[kind]
	may, err := access.Missing(ctx, reviews, []access.Need{{Verb: verb, Group: rbacv1.GroupName, Resource: resource, Namespace: obj.GetNamespace(), Name: name}})
	if err != nil || len(may) == 0 {
		return nil, err
	}
	if !g.asked {
		// A role and its binding may both need its rules: ask once.
		g.missing, err = access.Missing(ctx, reviews, g.rules)
		g.asked = err == nil
	}
	return g.missing, err
}

// roleGrant is what one of the daemon's roles grants, and which of that the
// caller lacks once asked.
type roleGrant struct {
	rules, missing []access.Need
	asked          bool
}

// ruleNeeds are the permissions rules grant in namespace ("" for all);
// role is the resource and name that grants them.
func ruleNeeds(rules []rbacv1.PolicyRule, namespace, role string) []access.Need {
	var needs []access.Need
	for _, rule := range rules {
		names := rule.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				for _, verb := range rule.Verbs {
					for _, name := range names {
						needs = append(needs, access.Need{Verb: verb, Group: group, Resource: resource, Namespace: namespace, Name: name,
							Why: "to grant it to the daemon, unless you may escalate and bind " + role})
					}
				}
			}
		}
	}
	return needs
}

func dedupe(needs []access.Need) []access.Need {
	seen := map[access.Need]bool{}
	var out []access.Need
	for _, n := range needs {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
