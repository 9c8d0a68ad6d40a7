// Package warm builds and manages the warming DaemonSet: it renders the
// embedded kustomize manifests with the user's settings (as one more
// kustomization on top, so `kubectl apply -k` of the same files gives the
// same objects), applies them server-side, and reads the daemons' progress.
package warm

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/manifests"
)

// PartOfLabel marks every object warm creates; remove finds them by it.
const (
	PartOfLabel = "app.kubernetes.io/part-of"
	PartOf      = "kubectl-winimage"
	// ComponentLabel selects the daemon pods.
	ComponentLabel = "app.kubernetes.io/component"
	DaemonName     = "winimage-daemon"
	// StartupTaintAnnotation on warm's namespace records the daemon's
	// --startup-taint, so remove can drop it from nodes no daemon will
	// untaint any more, even once the DaemonSet is gone.
	StartupTaintAnnotation = "winimage.io/startup-taint"
	// imageName is the placeholder image name in the manifests.
	imageName = "winimage-daemon"
)

// imageListYAML is the ConfigMap's image list for refs, normalized as CRI
// names them.
func imageListYAML(refs []string) ([]byte, error) {
	return yaml.Marshal(map[string]any{"images": refsAsList(refs)})
}

// Render returns the objects for cfg, in apply order.
func Render(cfg Config) ([]*unstructured.Unstructured, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mem := filesys.MakeFsInMemory()
	if err := fs.WalkDir(manifests.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := manifests.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/manifests", p), data)
	}); err != nil {
		return nil, err
	}
	k, err := userKustomization(cfg)
	if err != nil {
		return nil, err
	}
	for name, data := range k {
		if err := mem.WriteFile(path.Join("/warm", name), data); err != nil {
			return nil, err
		}
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/warm")
	if err != nil {
		return nil, fmt.Errorf("render manifests: %w", err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		// Through JSON, so numbers are what the API machinery expects.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	sort.SliceStable(out, func(i, j int) bool { return applyRank(out[i].GetKind()) < applyRank(out[j].GetKind()) })
	return out, nil
}

// applyRank puts what others need first: the namespace before what lives
// in it; the admission policies that narrow the daemon's writes, and their
// bindings, before the RBAC that grants those writes; RBAC and the
// ConfigMap before the DaemonSet.
func applyRank(kind string) int {
	switch kind {
	case "Namespace":
		return 0
	case "ValidatingAdmissionPolicy":
		return 1
	case "ValidatingAdmissionPolicyBinding":
		return 2
	case "ServiceAccount", "ConfigMap":
		return 3
	case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
		return 4
	}
	return 5
}

// Kustomization returns the files warm renders from: a kustomization.yaml
// and its patches, to sit beside a copy of manifests/ (as ../manifests).
func Kustomization(cfg Config) (map[string][]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return userKustomization(cfg)
}

// userKustomization writes cfg as a kustomization over the embedded base or
// overlay. Every value goes through the YAML encoder, never into text.
func userKustomization(cfg Config) (map[string][]byte, error) {
	base, binary := "../manifests/base", "winimage-daemon.exe"
	if cfg.OS == "linux" {
		base, binary = "../manifests/overlays/linux", "winimage-daemon"
	}
	listYAML, err := imageListYAML(cfg.Images)
	if err != nil {
		return nil, err
	}
	ov := &overlay{files: map[string][]byte{}}
	ov.add("configmap-patch.yaml", map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": contract.ConfigMapName},
		"data": map[string]any{contract.ImageListKey: string(listYAML)},
	}, nil)
	ov.add("daemonset-patch.yaml", map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": DaemonName},
		"spec": map[string]any{"template": map[string]any{"spec": podSpecPatch(cfg, binary)}},
	}, nil)
	ov.addGrants(cfg)
	if tolerations := daemonTolerations(cfg); len(tolerations) > 0 {
		ov.add("daemonset-tolerations-patch.yaml", tolerations, map[string]any{"kind": "DaemonSet", "name": DaemonName})
	}
	resources := []any{base}
	ns := cfg.Namespace
	if ns == "" {
		ns = contract.DefaultNamespace
	}
	if ns != contract.DefaultNamespace {
		for _, name := range basePolicyNames {
			ov.add("policy-"+name+"-patch.yaml", []any{map[string]any{"op": "replace", "path": "/spec/matchConditions/0/expression", "value": daemonMatch(ns)}},
				map[string]any{"kind": "ValidatingAdmissionPolicy", "name": name})
		}
	}
	if cfg.StartupTaint != "" {
		policy, err := ownNodePolicyYAML(ns, cfg.StartupTaint)
		if err != nil {
			return nil, err
		}
		ov.files["own-node-policy.yaml"] = policy
		resources = append(resources, "own-node-policy.yaml")
	}
	if ov.err != nil {
		return nil, ov.err
	}
	kust := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  resources,
		"images":     []any{daemonImage(cfg.DaemonImage)},
		"patches":    ov.patches,
	}
	if cfg.Namespace != "" {
		kust["namespace"] = cfg.Namespace
	}
	data, err := yaml.Marshal(kust)
	if err != nil {
		return nil, err
	}
	ov.files["kustomization.yaml"] = data
	return ov.files, nil
}

// addGrants adds what the daemon is granted beyond the base, by flag: the
// binding's subject in a namespace of the user's, node update and the
// recorded taint key with --startup-taint, the pull-slot Leases with
// --max-concurrent-nodes.
func (ov *overlay) addGrants(cfg Config) {
	if cfg.Namespace != "" {
		// kustomize's namespace transformer leaves a subject namespace the
		// base already set; the binding must follow the ServiceAccount.
		ov.add("clusterrolebinding-patch.yaml", []any{map[string]any{"op": "replace", "path": "/subjects/0/namespace", "value": cfg.Namespace}},
			map[string]any{"kind": "ClusterRoleBinding", "name": DaemonName})
	}
	if cfg.StartupTaint != "" {
		// Removing the taint is the only reason the daemon may change nodes.
		ov.add("clusterrole-taint-patch.yaml", []any{map[string]any{"op": "add", "path": "/rules/-", "value": map[string]any{
			"apiGroups": []any{""}, "resources": []any{"nodes"}, "verbs": []any{"patch"},
		}}}, map[string]any{"kind": "ClusterRole", "name": DaemonName})
		ov.add("namespace-taint-patch.yaml", []any{map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]any{
			StartupTaintAnnotation: cfg.StartupTaint,
		}}}, map[string]any{"kind": "Namespace"})
	}
	if cfg.MaxConcurrentNodes > 0 {
		// The pull slots are Leases named contract.SlotLease; get and
		// update only those (create cannot be limited by name in RBAC). A
		// waiting node lists and watches the namespace's Leases, which are
		// only these (a watch of several names cannot be limited by name).
		ov.add("role-slots-patch.yaml", []any{map[string]any{"op": "add", "path": "/rules/-", "value": map[string]any{
			"apiGroups": []any{"coordination.k8s.io"}, "resources": []any{"leases"}, "verbs": []any{"get", "update"}, "resourceNames": slotNames(cfg.MaxConcurrentNodes),
		}}, map[string]any{"op": "add", "path": "/rules/-", "value": map[string]any{
			"apiGroups": []any{"coordination.k8s.io"}, "resources": []any{"leases"}, "verbs": []any{"create", "list", "watch"},
		}}}, map[string]any{"kind": "Role", "name": DaemonName})
	}
}

// overlay collects the patch files of the user's kustomization.
type overlay struct {
	files   map[string][]byte
	patches []any
	err     error
}

// add writes obj as the patch file name, for target (nil: the patch names
// its object itself).
func (ov *overlay) add(name string, obj any, target map[string]any) {
	data, err := yaml.Marshal(obj)
	if err != nil {
		ov.err = errors.Join(ov.err, err)
		return
	}
	ov.files[name] = data
	patch := map[string]any{"path": name}
	if target != nil {
		patch["target"] = target
	}
	ov.patches = append(ov.patches, patch)
}

// daemonImage is the kustomize image entry that swaps the manifests'
// placeholder for the daemon image, by digest when it has one.
func daemonImage(ref string) map[string]any {
	named, _ := reference.ParseDockerRef(ref)
	img := map[string]any{"name": imageName, "newName": reference.TrimNamed(named).String()}
	if d, ok := named.(reference.Digested); ok {
		img["digest"] = d.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		img["newTag"] = t.Tag()
	}
	return img
}

// podSpecPatch is the daemon container's command and the pull-secret
// volumes.
func podSpecPatch(cfg Config, binary string) map[string]any {
	args := []string{binary, contract.CommandRun, contract.Flag(contract.FlagImages), contract.ImageListPath}
	if cfg.MaxConcurrentNodes > 0 {
		args = append(args, contract.Flag(contract.FlagMaxConcurrentNodes), fmt.Sprint(cfg.MaxConcurrentNodes))
	}
	if cfg.StartupTaint != "" {
		args = append(args, contract.Flag(contract.FlagStartupTaint), cfg.StartupTaint, contract.Flag(contract.FlagStartupTaintTimeout), cfg.startupTaintTimeout().String())
	}
	if cfg.DiscardUnpackedLayers {
		args = append(args, contract.Flag(contract.FlagDiscardUnpackedLayers))
	}
	if cfg.DiskThreshold > 0 && cfg.DiskThreshold != contract.DefaultDiskThreshold {
		args = append(args, contract.Flag(contract.FlagDiskThreshold), strconv.FormatFloat(cfg.DiskThreshold, 'f', -1, 64))
	}
	container := map[string]any{"name": "daemon"}
	if len(cfg.Proxy) > 0 {
		var env []any
		for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
			if v, ok := cfg.Proxy[k]; ok {
				env = append(env, map[string]any{"name": k, "value": v})
			}
		}
		container["env"] = env
	}
	podSpec := map[string]any{"containers": []any{container}}
	if len(cfg.NodeSelector) > 0 {
		podSpec["nodeSelector"] = cfg.NodeSelector
	}
	if len(cfg.PullSecrets) > 0 {
		args = append(args, contract.Flag(contract.FlagPullSecretsDir), contract.PullSecretsDir)
		var mounts, volumes []any
		for i, s := range cfg.PullSecrets {
			// A volume's name is a DNS label, a Secret's a subdomain: name
			// the volume by position, so every valid Secret name mounts.
			volume := fmt.Sprintf("pull-secret-%d", i)
			mounts = append(mounts, map[string]any{"name": volume, "mountPath": contract.PullSecretsDir + "/" + s, "readOnly": true})
			volumes = append(volumes, map[string]any{"name": volume, "secret": map[string]any{"secretName": s}})
		}
		container["volumeMounts"] = mounts
		podSpec["volumes"] = volumes
	}
	container["command"] = args
	return podSpec
}

func refsAsList(refs []string) []any {
	out := make([]any, 0, len(refs))
	for _, r := range refs {
		named, _ := reference.ParseDockerRef(r)
		out = append(out, map[string]any{"ref": named.String()})
	}
	return out
}

// slotNames are the Leases of limit pull slots.
func slotNames(limit int) []any {
	names := make([]any, limit)
	for i := range names {
		names[i] = contract.SlotLease(contract.SlotLeasePrefix, i)
	}
	return names
}

// daemonTolerations are JSON patch operations adding to the DaemonSet's
// tolerations the startup taint (any effect: the daemon must land on a
// node to lift it, whatever effect the node group gave it) and the user's.
func daemonTolerations(cfg Config) []any {
	var ops []any
	add := func(t map[string]any) {
		ops = append(ops, map[string]any{"op": "add", "path": "/spec/template/spec/tolerations/-", "value": t})
	}
	if cfg.StartupTaint != "" {
		add(map[string]any{"key": cfg.StartupTaint, "operator": "Exists"})
	}
	for _, t := range cfg.Tolerations {
		v := map[string]any{"operator": string(t.Operator)}
		for k, s := range map[string]string{"key": t.Key, "value": t.Value, "effect": string(t.Effect)} {
			if s != "" {
				v[k] = s
			}
		}
		add(v)
	}
	return ops
}
