package warm

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
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
	// not fill beyond: at most kubelet's eviction line
	// (contract.EvictionDiskLine), or 1 to turn the guard off; 0 is the
	// daemon's default (contract.DefaultDiskThreshold).
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
		if err := ValidateNamespace(c.Namespace); err != nil {
			return err
		}
	}
	for i, s := range c.PullSecrets {
		// A Secret's name is a DNS subdomain (k8s.io/kubernetes v1.37.2
		// pkg/apis/core/validation ValidateSecretName).
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return field.Invalid(field.NewPath("pullSecrets").Index(i), s, "not a secret name: "+errs[0])
		}
	}
	if c.DiskThreshold < 0 || (c.DiskThreshold > contract.EvictionDiskLine && c.DiskThreshold != 1) {
		return field.Invalid(field.NewPath("diskThreshold"), c.DiskThreshold,
			fmt.Sprintf("give a fraction of the disk up to kubelet's eviction line %.2f, such as %.2f (1 turns the guard off)", contract.EvictionDiskLine, contract.DefaultDiskThreshold))
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

// ValidateNamespace checks a namespace name as the API server does (a DNS
// label), as a field error on namespace.
func ValidateNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return field.Invalid(field.NewPath("namespace"), ns, "not a namespace name: "+errs[0])
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

func (c Config) startupTaintTimeout() time.Duration {
	if c.StartupTaintTimeout == 0 {
		return contract.DefaultStartupTaintTimeout
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
