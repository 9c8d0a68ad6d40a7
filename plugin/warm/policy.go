package warm

import (
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// The daemon's ServiceAccount is shared by every node's daemon, and RBAC
// cannot name "the pod this token belongs to" or "this node". The token
// kubelet mounts into a pod is bound to that pod, and the API server puts
// the pod's and its node's names into the request's user info (k8s.io/
// apiserver v0.37.2 pkg/authentication/serviceaccount/util.go PodNameKey,
// PodUIDKey, NodeNameKey; feature ServiceAccountTokenPodNodeInfo, GA in
// 1.32). Validating admission policies compare those with the object, so a
// node's daemon reaches its own pod and node only. A token without them
// (minted by TokenRequest without a bound pod, or a legacy Secret token) is
// refused everything the policies cover: they fail closed.
const (
	podNameExtra  = "authentication.kubernetes.io/pod-name"
	podUIDExtra   = "authentication.kubernetes.io/pod-uid"
	nodeNameExtra = "authentication.kubernetes.io/node-name"
)

// Policy names: each ValidatingAdmissionPolicy and its binding share one.
const (
	// OwnPodPolicyName keeps the daemon's pod writes to the progress and
	// unpin annotations of its own pod.
	OwnPodPolicyName = DaemonName + "-own-pod"
	// NodeEventsPolicyName keeps its Events to its own node, in default.
	NodeEventsPolicyName = DaemonName + "-node-events"
	// OwnNodePolicyName keeps its node update (granted with --startup-taint)
	// to removing that taint from its own node.
	OwnNodePolicyName = DaemonName + "-own-node"
)

// claim is the CEL for the first value of a user-info extra; the caller
// checks presence with hasClaim first.
func claim(key string) string { return "request.userInfo.extra['" + key + "'][0]" }

func hasClaim(key string) string {
	return "'" + key + "' in request.userInfo.extra && size(request.userInfo.extra['" + key + "']) == 1"
}

// sameFields is CEL that holds when each of paths (optional selections on
// object and oldObject, such as "metadata.?labels") is unchanged.
func sameFields(paths ...string) string {
	var parts []string
	for _, p := range paths {
		parts = append(parts, "object."+p+" == oldObject."+p)
	}
	return strings.Join(parts, " && ")
}

// onlyOperation is the first validation of every policy: the daemon's RBAC
// grants one write per resource, and anything else (a subresource, a
// delete) is refused here too, should a wider role ever be bound.
func onlyOperation(op, what string) map[string]any {
	return map[string]any{
		// request.subResource is absent, not empty, on the object itself.
		"expression": "request.operation == '" + op + "' && (!has(request.subResource) || request.subResource == '')",
		"message":    "winimage-daemon may only " + what,
	}
}

// daemonPolicies are the policies and bindings for the daemon's account in
// namespace; startupTaint (a validated taint key, or "") adds the node
// policy. Every string put into CEL is a DNS label, a qualified name or a
// constant of ours, none of which can hold a quote.
func daemonPolicies(namespace, startupTaint string) ([]byte, error) {
	username := "system:serviceaccount:" + namespace + ":" + DaemonName
	policies := []map[string]any{ownPodPolicy(), nodeEventsPolicy()}
	if startupTaint != "" {
		policies = append(policies, ownNodePolicy(startupTaint))
	}
	var out []byte
	for _, p := range policies {
		name := p["name"].(string)
		labels := map[string]any{"app.kubernetes.io/name": "winimage", PartOfLabel: PartOf}
		spec := map[string]any{
			"failurePolicy": "Fail",
			"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
				"apiGroups": p["groups"], "apiVersions": []any{"*"}, "operations": []any{"*"}, "resources": p["resources"],
			}}},
			"matchConditions": []any{map[string]any{"name": "winimage-daemon", "expression": "request.userInfo.username == '" + username + "'"}},
			"validations":     p["validations"],
		}
		if v, ok := p["variables"]; ok {
			spec["variables"] = v
		}
		for _, obj := range []any{
			map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
				"metadata": map[string]any{"name": name, "labels": labels}, "spec": spec},
			map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
				"metadata": map[string]any{"name": name, "labels": labels},
				"spec":     map[string]any{"policyName": name, "validationActions": []any{"Deny"}}},
		} {
			data, err := yaml.Marshal(obj)
			if err != nil {
				return nil, err
			}
			out = append(append(out, "---\n"...), data...)
		}
	}
	return out, nil
}

// ownPodPolicy: the daemon patches one or two annotations of its own pod
// (report.annotatePod) and nothing else: not another pod, not its own
// pod's spec (the image a HostProcess pod runs as SYSTEM), labels,
// owners, finalizers or other annotations.
func ownPodPolicy() map[string]any {
	allowed := "['" + contract.AnnotationProgress + "', '" + contract.AnnotationUnpin + "']"
	return map[string]any{
		"name": OwnPodPolicyName, "groups": []any{""}, "resources": []any{"pods", "pods/*"},
		"variables": []any{
			map[string]any{"name": "new", "expression": "object.metadata.?annotations.orValue({})"},
			map[string]any{"name": "old", "expression": "oldObject.metadata.?annotations.orValue({})"},
		},
		"validations": []any{
			onlyOperation("UPDATE", "annotate its own pod"),
			map[string]any{
				"expression": hasClaim(podNameExtra) + " && " + hasClaim(podUIDExtra) + " && " +
					claim(podNameExtra) + " == object.metadata.name && " + claim(podUIDExtra) + " == object.metadata.uid",
				"message": "winimage-daemon may change only the pod its token was issued for",
			},
			map[string]any{
				"expression": sameFields("spec", "metadata.?labels", "metadata.?ownerReferences", "metadata.?finalizers") + " && " +
					"variables.new.all(k, k in " + allowed + " || (k in variables.old && variables.old[k] == variables.new[k])) && " +
					"variables.old.all(k, k in " + allowed + " || (k in variables.new && variables.new[k] == variables.old[k]))",
				"message": "winimage-daemon may only set its progress and unpin annotations",
			},
		},
	}
}

// nodeEventsPolicy: the daemon records Events about its own node in
// default, where node events go (report.NodeEvent).
func nodeEventsPolicy() map[string]any {
	return map[string]any{
		"name": NodeEventsPolicyName, "groups": []any{"", "events.k8s.io"}, "resources": []any{"events"},
		"validations": []any{
			onlyOperation("CREATE", "create Events about its own node"),
			map[string]any{
				"expression": hasClaim(nodeNameExtra) + " && request.resource.group == '' && request.namespace == 'default' && " +
					"object.involvedObject.kind == 'Node' && object.involvedObject.name == " + claim(nodeNameExtra),
				"message": "winimage-daemon may only record Events about the node its pod runs on, in default",
			},
		},
	}
}

// ownNodePolicy: with --startup-taint the daemon may update nodes, which
// RBAC cannot narrow; here it may only drop that taint, from its own node.
func ownNodePolicy(startupTaint string) map[string]any {
	return map[string]any{
		"name": OwnNodePolicyName, "groups": []any{""}, "resources": []any{"nodes", "nodes/*"},
		"validations": []any{
			onlyOperation("UPDATE", "remove the startup taint from its own node"),
			map[string]any{
				"expression": hasClaim(nodeNameExtra) + " && " + claim(nodeNameExtra) + " == object.metadata.name",
				"message":    "winimage-daemon may change only the node its pod runs on",
			},
			map[string]any{
				"expression": sameFields("metadata.?labels", "metadata.?annotations", "metadata.?ownerReferences", "metadata.?finalizers",
					"spec.?unschedulable", "spec.?providerID", "spec.?podCIDR", "spec.?podCIDRs", "spec.?configSource", "spec.?externalID") + " && " +
					"object.spec.?taints.orValue([]).all(t, oldObject.spec.?taints.orValue([]).exists(o, o == t)) && " +
					"oldObject.spec.?taints.orValue([]).all(o, o.key == '" + startupTaint + "' || object.spec.?taints.orValue([]).exists(t, t == o))",
				"message": "winimage-daemon may only remove the startup taint " + startupTaint + " from its node",
			},
		},
	}
}
