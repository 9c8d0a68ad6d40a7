// Package warm builds and manages the warming DaemonSet: it renders the
// embedded kustomize manifests with the user's settings (as one more
// kustomization on top, so `kubectl apply -k` of the same files gives the
// same objects), applies them server-side, and reads the daemons' progress.
package warm

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
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
	ConfigMapName  = "winimage-images"
	// StartupTaintAnnotation on warm's namespace records the daemon's
	// --startup-taint, so remove can drop it from nodes no daemon will
	// untaint any more, even once the DaemonSet is gone.
	StartupTaintAnnotation = "winimage.io/startup-taint"
	// imageName is the placeholder image name in the manifests.
	imageName = "winimage-daemon"
	// defaultDiskThreshold is the daemon's, kubelet's image GC high mark.
	defaultDiskThreshold = 0.85
)

// Config is what the user chose.
type Config struct {
	Namespace   string
	OS          string // windows or linux
	DaemonImage string
	Images      []string
	PullSecrets []string
	// NodeSelector narrows the nodes beyond kubernetes.io/os.
	NodeSelector       map[string]string
	MaxConcurrentNodes int
	// StartupTaint is the key of the taint the daemon lifts from a node
	// once it is warm, or at StartupTaintTimeout after the node joined.
	StartupTaint        string
	StartupTaintTimeout time.Duration
	// Tolerations are added to the DaemonSet's (the node group's own
	// taints); the startup taint is always tolerated.
	Tolerations []corev1.Toleration
	// Proxy is the proxy environment the nodes' containerd service has
	// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), given to the daemon too so its
	// registry lookups and pulls leave the node the same way.
	Proxy map[string]string
	// DiscardUnpackedLayers: the nodes' containerd sets
	// discard_unpacked_layers, and the daemon pulls as CRI does there.
	DiscardUnpackedLayers bool
	// DiskThreshold is the fraction of containerd's volume the daemon will
	// not fill beyond (kubelet's imageGCHighThresholdPercent / 100); 0 is
	// the daemon's default, 0.85 as kubelet's.
	DiskThreshold float64
}

// Validate checks everything before anything is rendered or applied. Its
// errors are field errors (field.Error) naming the Config field, which the
// command maps to its flag.
func (c Config) Validate() error {
	if err := c.ValidateSettings(); err != nil {
		return err
	}
	return c.ValidateImages()
}

// ValidateSettings checks everything but the image list.
func (c Config) ValidateSettings() error {
	if c.OS != "windows" && c.OS != "linux" {
		return field.NotSupported(field.NewPath("os"), c.OS, []string{"windows", "linux"})
	}
	if c.DaemonImage == "" {
		return field.Required(field.NewPath("daemonImage"), "this build has none stamped in")
	}
	if _, err := reference.ParseDockerRef(c.DaemonImage); err != nil {
		return field.Invalid(field.NewPath("daemonImage"), c.DaemonImage, err.Error())
	}
	if c.Namespace != "" {
		if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
			return field.Invalid(field.NewPath("namespace"), c.Namespace, "not a namespace name: "+errs[0])
		}
	}
	for i, s := range c.PullSecrets {
		// A Secret's name is a DNS subdomain (k8s.io/kubernetes v1.37.2
		// pkg/apis/core/validation ValidateSecretName).
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return field.Invalid(field.NewPath("pullSecrets").Index(i), s, "not a secret name: "+errs[0])
		}
	}
	if c.DiskThreshold < 0 || c.DiskThreshold > 1 {
		return field.Invalid(field.NewPath("diskThreshold"), c.DiskThreshold, "give a fraction of the disk, such as 0.85")
	}
	if c.MaxConcurrentNodes < 0 || c.MaxConcurrentNodes > MaxConcurrentNodesLimit {
		return field.Invalid(field.NewPath("maxConcurrentNodes"), c.MaxConcurrentNodes, fmt.Sprintf("must be 0 (no limit) to %d", MaxConcurrentNodesLimit))
	}
	if err := c.validateTaint(); err != nil {
		return err
	}
	for i, t := range c.Tolerations {
		if err := validateToleration(field.NewPath("tolerations").Index(i), t); err != nil {
			return err
		}
	}
	return nil
}

// MaxConcurrentNodesLimit bounds --max-concurrent-nodes: each slot is a
// Lease named in the daemon's Role, and pacing more nodes than this at
// once is no pacing.
const MaxConcurrentNodesLimit = 100

// validateTaint checks the startup taint key as the API server checks a
// taint's key (a qualified name, k8s.io/kubernetes v1.37.2 pkg/apis/core/
// validation validateTaints). Keys the node lifecycle controller and cloud
// providers manage (node.kubernetes.io/, node.cloudprovider.kubernetes.io/)
// are refused: lifting one would hide a real condition of the node.
func (c Config) validateTaint() error {
	path := field.NewPath("startupTaint")
	if c.StartupTaint == "" {
		if c.StartupTaintTimeout != 0 {
			return field.Invalid(field.NewPath("startupTaintTimeout"), c.StartupTaintTimeout.String(), "goes with --startup-taint")
		}
		return nil
	}
	if errs := validation.IsQualifiedName(c.StartupTaint); len(errs) > 0 {
		return field.Invalid(path, c.StartupTaint, "not a taint key: "+errs[0])
	}
	for _, reserved := range []string{"node.kubernetes.io/", "node.cloudprovider.kubernetes.io/", "node-role.kubernetes.io/"} {
		if strings.HasPrefix(c.StartupTaint, reserved) {
			return field.Invalid(path, c.StartupTaint, "a taint Kubernetes manages ("+reserved+"…); use a key of your own, such as winimage.io/warming")
		}
	}
	if c.StartupTaintTimeout != 0 && c.StartupTaintTimeout < time.Minute {
		return field.Invalid(field.NewPath("startupTaintTimeout"), c.StartupTaintTimeout.String(), "must be at least 1m: the daemon lifts the taint by then, warm or not")
	}
	return nil
}

// DefaultStartupTaintTimeout is how long after a node joined its daemon
// lifts the startup taint, warm or not: a servercore image takes about 8
// minutes on a fresh node, a large .NET Framework image about 15, so 30
// leaves room for both and for retries, and a node whose images cannot be
// warmed (a registry down, a disk too small) still takes workloads within
// half an hour.
const DefaultStartupTaintTimeout = 30 * time.Minute

func (c Config) startupTaintTimeout() time.Duration {
	if c.StartupTaintTimeout == 0 {
		return DefaultStartupTaintTimeout
	}
	return c.StartupTaintTimeout
}

// validateToleration checks a toleration as the API server does (k8s.io/
// kubernetes v1.37.2 pkg/apis/core/validation validateTolerations): a
// qualified key, Exists without a value, a known effect.
func validateToleration(path *field.Path, t corev1.Toleration) error {
	if t.Key != "" {
		if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
			return field.Invalid(path, t.Key, "not a taint key: "+errs[0])
		}
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		if t.Value != "" {
			return field.Invalid(path, t.Value, "a value goes with key=value (Equal), not with Exists")
		}
	case corev1.TolerationOpEqual:
		if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
			return field.Invalid(path, t.Value, "not a taint value: "+errs[0])
		}
	default:
		return field.NotSupported(path, t.Operator, []string{string(corev1.TolerationOpExists), string(corev1.TolerationOpEqual)})
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	}
	return field.NotSupported(path, t.Effect, []string{"NoSchedule", "PreferNoSchedule", "NoExecute", "(all)"})
}

// ValidateImages checks the image list: at least one, each a valid
// reference, none twice (after normalization, as kubelet's CRI sees them).
func (c Config) ValidateImages() error {
	if len(c.Images) == 0 {
		return field.Required(field.NewPath("images"), "nothing to warm")
	}
	seen := map[string]bool{}
	for i, img := range c.Images {
		named, err := reference.ParseDockerRef(img)
		if err != nil {
			return field.Invalid(field.NewPath("images").Index(i), img, "not a valid reference: "+err.Error())
		}
		if seen[named.String()] {
			return field.Duplicate(field.NewPath("images").Index(i), named.String())
		}
		seen[named.String()] = true
	}
	return checkListFits(c.Images)
}

// checkListFits refuses an image list the API server would refuse in the
// ConfigMap: its values may hold corev1.MaxSecretSize (1 MiB) in all
// (k8s.io/kubernetes v1.37.2 pkg/apis/core/validation ValidateConfigMap).
// Refused here, before anything is applied, with how many fit.
func checkListFits(images []string) error {
	size := func(n int) int {
		data, err := imageListYAML(images[:n])
		if err != nil {
			return math.MaxInt
		}
		return len(data)
	}
	if size(len(images)) <= corev1.MaxSecretSize {
		return nil
	}
	fit := sort.Search(len(images), func(n int) bool { return size(n+1) > corev1.MaxSecretSize })
	return &field.Error{Type: field.ErrorTypeTooMany, Field: "images", BadValue: fmt.Sprintf("%d references", len(images)),
		Detail: fmt.Sprintf("their list is %d bytes, over the %d a ConfigMap holds; the first %d fit", size(len(images)), corev1.MaxSecretSize, fit)}
}

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
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": ConfigMapName},
		"data": map[string]any{contract.ImageListKey: string(listYAML)},
	}, nil)
	ov.add("daemonset-patch.yaml", map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": DaemonName},
		"spec": map[string]any{"template": map[string]any{"spec": podSpecPatch(cfg, binary)}},
	}, nil)
	if cfg.Namespace != "" {
		// kustomize's namespace transformer leaves a subject namespace the
		// base already set; the binding must follow the ServiceAccount.
		ov.add("clusterrolebinding-patch.yaml", []any{map[string]any{"op": "replace", "path": "/subjects/0/namespace", "value": cfg.Namespace}},
			map[string]any{"kind": "ClusterRoleBinding", "name": DaemonName})
	}
	if cfg.StartupTaint != "" {
		// Removing the taint is the only reason the daemon may change nodes.
		ov.add("clusterrole-taint-patch.yaml", []any{map[string]any{"op": "add", "path": "/rules/-", "value": map[string]any{
			"apiGroups": []any{""}, "resources": []any{"nodes"}, "verbs": []any{"update"},
		}}}, map[string]any{"kind": "ClusterRole", "name": DaemonName})
		ov.add("namespace-taint-patch.yaml", []any{map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]any{
			StartupTaintAnnotation: cfg.StartupTaint,
		}}}, map[string]any{"kind": "Namespace"})
	}
	if tolerations := daemonTolerations(cfg); len(tolerations) > 0 {
		ov.add("daemonset-tolerations-patch.yaml", tolerations, map[string]any{"kind": "DaemonSet", "name": DaemonName})
	}
	if cfg.MaxConcurrentNodes > 0 {
		// The pull slots are Leases named contract.SlotLease; get and
		// update only those (create cannot be limited by name in RBAC).
		ov.add("role-slots-patch.yaml", []any{map[string]any{"op": "add", "path": "/rules/-", "value": map[string]any{
			"apiGroups": []any{"coordination.k8s.io"}, "resources": []any{"leases"}, "verbs": []any{"get", "update"}, "resourceNames": slotNames(cfg.MaxConcurrentNodes),
		}}, map[string]any{"op": "add", "path": "/rules/-", "value": map[string]any{
			"apiGroups": []any{"coordination.k8s.io"}, "resources": []any{"leases"}, "verbs": []any{"create"},
		}}}, map[string]any{"kind": "Role", "name": DaemonName})
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
	args := []string{binary, "run", "--images", contract.ImageListPath}
	if cfg.MaxConcurrentNodes > 0 {
		args = append(args, "--max-concurrent-nodes", fmt.Sprint(cfg.MaxConcurrentNodes))
	}
	if cfg.StartupTaint != "" {
		args = append(args, "--startup-taint", cfg.StartupTaint, "--startup-taint-timeout", cfg.startupTaintTimeout().String())
	}
	if cfg.DiscardUnpackedLayers {
		args = append(args, "--discard-unpacked-layers")
	}
	if cfg.DiskThreshold > 0 && cfg.DiskThreshold != defaultDiskThreshold {
		args = append(args, "--disk-threshold", strconv.FormatFloat(cfg.DiskThreshold, 'f', -1, 64))
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
		args = append(args, "--pull-secrets-dir", contract.PullSecretsDir)
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
