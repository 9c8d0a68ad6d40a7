package warm

import (
	"sigs.k8s.io/yaml"
)

// OwnNodePolicyName names the ValidatingAdmissionPolicy and its binding
// that narrow the daemon's node update (granted with --startup-taint) to
// what RBAC cannot: its own node, and taint removal only.
const OwnNodePolicyName = DaemonName + "-own-node"

// nodeNameExtra is the user-info extra a pod-bound ServiceAccount token
// carries with the name of its pod's node (k8s.io/apiserver v0.37.2
// pkg/authentication/serviceaccount/util.go NodeNameKey; feature
// ServiceAccountTokenPodNodeInfo, k8s.io/kubernetes v1.37.2
// pkg/features/kube_features.go: on by default from 1.30, GA in 1.32).
const nodeNameExtra = "authentication.kubernetes.io/node-name"

// kustomize's built-in schema (kyaml v0.21.1 openapi, Kubernetes 1.21;
// kubectl's kustomize does the same) does not know these two kinds, so its
// namespace transformer gives them warm's namespace. Render keeps that, to
// render exactly what `kubectl kustomize` of the exported kustomization
// renders: the API server clears the namespace of a cluster-scoped object
// (k8s.io/apiserver v0.37.2 pkg/registry/rest/meta.go
// EnsureObjectNamespaceMatchesRequestNamespace), and apply and preflight
// go by the kind's scope, not by that field.

// ownNodePolicy is the policy and its binding for the daemon's
// ServiceAccount in namespace. An update by that account passes only if
// the node is the one its token was issued for and nothing but taints
// went away. A token without node information (a cluster older than 1.30,
// or one minted outside a pod) is held to the second rule alone.
func ownNodePolicy(namespace string) ([]byte, error) {
	username := "system:serviceaccount:" + namespace + ":" + DaemonName
	labels := map[string]any{"app.kubernetes.io/name": "winimage", PartOfLabel: PartOf}
	policy := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1",
		"kind":       "ValidatingAdmissionPolicy",
		"metadata":   map[string]any{"name": OwnNodePolicyName, "labels": labels},
		"spec": map[string]any{
			"failurePolicy": "Fail",
			"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
				"apiGroups": []any{""}, "apiVersions": []any{"v1"}, "operations": []any{"UPDATE"}, "resources": []any{"nodes"},
			}}},
			// namespace is a DNS label (Config.Validate): safe in a CEL string.
			"matchConditions": []any{map[string]any{"name": "winimage-daemon", "expression": "request.userInfo.username == '" + username + "'"}},
			"validations": []any{
				map[string]any{
					"expression": "!('" + nodeNameExtra + "' in request.userInfo.extra) || request.userInfo.extra['" + nodeNameExtra + "'][0] == object.metadata.name",
					"message":    "winimage-daemon may change only the node its pod runs on",
				},
				map[string]any{
					"expression": "object.metadata.?labels == oldObject.metadata.?labels && object.metadata.?annotations == oldObject.metadata.?annotations && " +
						"object.spec.?unschedulable == oldObject.spec.?unschedulable && object.spec.?providerID == oldObject.spec.?providerID && " +
						"object.spec.?podCIDR == oldObject.spec.?podCIDR && object.spec.?podCIDRs == oldObject.spec.?podCIDRs && " +
						"object.spec.?taints.orValue([]).all(t, oldObject.spec.?taints.orValue([]).exists(o, o == t))",
					"message": "winimage-daemon may only remove taints from its node",
				},
			},
		},
	}
	binding := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1",
		"kind":       "ValidatingAdmissionPolicyBinding",
		"metadata":   map[string]any{"name": OwnNodePolicyName, "labels": labels},
		"spec":       map[string]any{"policyName": OwnNodePolicyName, "validationActions": []any{"Deny"}},
	}
	var out []byte
	for _, obj := range []any{policy, binding} {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(append(out, "---\n"...), data...)
	}
	return out, nil
}
