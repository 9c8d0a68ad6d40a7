package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// warmFlags maps warm.Config's fields to the flags that set them.
var warmFlags = map[string]string{
	"os": "--os", "daemonImage": "--daemon-image", "images": "image (argument, --from-file or --from-audit)",
	"pullSecrets": "--pull-secret", "diskThreshold": "--disk-threshold", "maxConcurrentNodes": "--max-concurrent-nodes",
	"namespace": "--namespace", "startupTaint": "--startup-taint", "startupTaintTimeout": "--startup-taint-timeout", "tolerations": "--toleration",
}

var warmOutputs = outputFormats{"yaml", "json", "name"}

// WarmOptions drives `kubectl winimage warm`.
type WarmOptions struct {
	RESTClientGetter genericclioptions.RESTClientGetter
	PrintFlags       *genericclioptions.PrintFlags

	Images             []string
	FromFile           string
	FromAudit          bool
	Top                int
	Concurrency        int
	Selector           string
	OS                 string
	DaemonImage        string
	PullSecrets        []string
	MaxConcurrentNodes int
	StartupTaint       string
	StartupTaintWait   time.Duration
	Tolerations        []string
	DryRun             string
	DiskThreshold      float64
	DiscardLayers      bool
	HTTPProxy          string
	HTTPSProxy         string
	NoProxy            string
	Wait               bool
	Timeout            time.Duration

	genericiooptions.IOStreams

	cfg     warm.Config
	dryRun  DryRunStrategy
	dynamic dynamic.Interface
	client  kubernetes.Interface
}

// NewWarmOptions returns the defaults.
func NewWarmOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *WarmOptions {
	return &WarmOptions{RESTClientGetter: getter, PrintFlags: genericclioptions.NewPrintFlags("").WithDefaultOutput(""),
		OS: "windows", DaemonImage: buildinfo.DaemonImage, Top: 10, Concurrency: 8, DryRun: "none", DiskThreshold: contract.DefaultDiskThreshold,
		Timeout: time.Hour, IOStreams: streams}
}

// NewCmdWarm wires WarmOptions and the status and remove subcommands.
func NewCmdWarm(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewWarmOptions(getter, streams)
	cmd := &cobra.Command{
		Use:   "warm [IMAGE...]",
		Short: "Deploy the warming DaemonSet: pull and pin images on every selected node",
		Long: `Deploy (or update) the winimage DaemonSet, which pulls the images into each
selected node's containerd (the k8s.io namespace kubelet uses), for the
node's Windows build, and pins them against kubelet's image GC. Nodes that
join later are warmed too, while the DaemonSet exists.

On Windows it runs as a privileged HostProcess pod (NT AUTHORITY\SYSTEM,
host network). Objects are applied server-side with the field manager
kubectl-winimage; applying again with a new list re-warms only what changed.

With --wait it follows every node until its images are ready or failed
(exit 0: all ready; 3: some failed; 1: timeout or error). Interrupting the
wait leaves the DaemonSet warming.`,
		Example: `  kubectl winimage warm mcr.microsoft.com/windows/servercore:ltsc2022 myregistry/app:1.2
  kubectl winimage warm --from-file images.txt --pull-secret regcred --max-concurrent-nodes 5 --wait
  kubectl winimage warm --from-audit --top 5 --dry-run=client -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Images = args
			if err := o.Complete(cmd); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.FromFile, "from-file", "", "File of images: one per line, or a daemon image list (images: [{ref: …}])")
	cmd.Flags().BoolVar(&o.FromAudit, "from-audit", false, "Warm the images the audit finds on the selected nodes, most used first")
	cmd.Flags().IntVar(&o.Top, "top", o.Top, "With --from-audit, how many images")
	cmd.Flags().IntVar(&o.Concurrency, "registry-concurrency", o.Concurrency, "With --from-audit, registry lookups in flight at once")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Node label selector, k=v,… only (a DaemonSet's nodeSelector), besides kubernetes.io/os from --os")
	cmd.Flags().StringVar(&o.OS, "os", o.OS, "Node OS: windows (HostProcess) or linux (privileged pod)")
	cmd.Flags().StringVar(&o.DaemonImage, "daemon-image", o.DaemonImage, "Daemon image (default: the one stamped into this build)")
	cmd.Flags().StringArrayVar(&o.PullSecrets, "pull-secret", nil, "Pull secret in the daemon's namespace to mount (repeatable)")
	cmd.Flags().IntVar(&o.MaxConcurrentNodes, "max-concurrent-nodes", 0, "Nodes pulling at once, cluster-wide (0: no limit)")
	cmd.Flags().StringVar(&o.StartupTaint, "startup-taint", "", "KEY[:NoSchedule] of the taint the daemon lifts from a node once it is warm (NoExecute is refused)")
	cmd.Flags().DurationVar(&o.StartupTaintWait, "startup-taint-timeout", contract.DefaultStartupTaintTimeout, "With --startup-taint, lift the taint this long after the node joined, warm or not")
	cmd.Flags().StringArrayVar(&o.Tolerations, "toleration", nil, "KEY[=VALUE][:EFFECT] of a taint the nodes carry that the daemon must tolerate (repeatable; no effect: all)")
	cmd.Flags().Float64Var(&o.DiskThreshold, "disk-threshold", o.DiskThreshold, fmt.Sprintf("Skip an image that would fill containerd's volume above this fraction, at most kubelet's eviction line %g (1: no guard)", contract.EvictionDiskLine))
	cmd.Flags().BoolVar(&o.DiscardLayers, "discard-unpacked-layers", false, "The nodes' containerd sets discard_unpacked_layers: the daemon pulls as CRI does there")
	cmd.Flags().StringVar(&o.HTTPProxy, "http-proxy", "", "HTTP_PROXY of the nodes' containerd service, for the daemon's pulls")
	cmd.Flags().StringVar(&o.HTTPSProxy, "https-proxy", "", "HTTPS_PROXY of the nodes' containerd service, for the daemon's pulls")
	cmd.Flags().StringVar(&o.NoProxy, "no-proxy", "", "NO_PROXY of the nodes' containerd service")
	cmd.Flags().StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (print only) or "server" (validated by the API server, not stored)`)
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "Follow per-node progress until every node is ready or failed")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "With --wait, how long to wait")
	o.PrintFlags.AddFlags(cmd)
	cmd.AddCommand(NewCmdWarmStatus(getter, streams), NewCmdWarmRemove(getter, streams))
	return cmd
}

// warmNamespace is -n when given, else the daemon's default namespace;
// every warm command checks it is a namespace name before it acts.
func warmNamespace(cmd *cobra.Command, flags genericclioptions.RESTClientGetter) (string, error) {
	ns, err := explicitNamespace(cmd, flags)
	if err != nil {
		return "", err
	}
	if !cmd.Flags().Changed("namespace") {
		return contract.DefaultNamespace, nil
	}
	if err := warm.ValidateNamespace(ns); err != nil {
		return "", flagError(err, warmFlags)
	}
	return ns, nil
}

// Complete reads the flags, the --from-file list and the clients into the
// configuration; --from-audit's images come in Run.
func (o *WarmOptions) Complete(cmd *cobra.Command) error {
	ns, err := warmNamespace(cmd, o.RESTClientGetter)
	if err != nil {
		return err
	}
	if o.dryRun, err = parseDryRun(o.DryRun); err != nil {
		return err
	}
	images := append([]string(nil), o.Images...)
	if o.FromFile != "" {
		fromFile, err := warm.ReadImageFile(o.FromFile)
		if err != nil {
			return fmt.Errorf("--from-file: %w", err)
		}
		images = append(images, fromFile...)
	}
	sel, err := labels.ConvertSelectorToLabelsMap(o.Selector)
	if err != nil {
		return fmt.Errorf("--selector %q: only k=v,… is possible in a DaemonSet's nodeSelector: %v", o.Selector, err)
	}
	taintKey, err := parseStartupTaint(o.StartupTaint)
	if err != nil {
		return err
	}
	var tolerations []corev1.Toleration
	for _, spec := range o.Tolerations {
		t, err := parseToleration(spec)
		if err != nil {
			return err
		}
		tolerations = append(tolerations, t)
	}
	var taintWait time.Duration
	if taintKey != "" || cmd.Flags().Changed("startup-taint-timeout") {
		taintWait = o.StartupTaintWait
	}
	if o.dryRun != DryRunClient || o.FromAudit {
		if err := o.completeClients(); err != nil {
			return err
		}
	}
	o.cfg = warm.Config{Namespace: ns, OS: o.OS, DaemonImage: o.DaemonImage, Images: images, PullSecrets: o.PullSecrets,
		NodeSelector: sel, MaxConcurrentNodes: o.MaxConcurrentNodes, StartupTaint: taintKey, StartupTaintTimeout: taintWait, Tolerations: tolerations,
		DiskThreshold: o.DiskThreshold, DiscardUnpackedLayers: o.DiscardLayers, Proxy: o.proxy()}
	return nil
}

// parseStartupTaint reads --startup-taint KEY[:EFFECT]. The daemon lifts
// the taint by key, whatever its effect, and tolerates every effect of it;
// an effect given here may only be NoSchedule: a NoExecute startup taint
// evicts whatever does not tolerate it (other DaemonSets' pods among them)
// each time a node group re-applies it.
func parseStartupTaint(spec string) (string, error) {
	key, effect, hasEffect := strings.Cut(spec, ":")
	if !hasEffect || effect == string(corev1.TaintEffectNoSchedule) {
		return key, nil
	}
	if effect == string(corev1.TaintEffectNoExecute) {
		return "", fmt.Errorf("--startup-taint %q: NoExecute would evict running pods that do not tolerate it; give the node group the taint with NoSchedule", spec)
	}
	return "", fmt.Errorf("--startup-taint %q: the effect may only be NoSchedule", spec)
}

// parseToleration reads --toleration KEY[=VALUE][:EFFECT], the form
// kubectl taint writes a taint in: with a value it tolerates that value
// (Equal), without one any value (Exists); without an effect, every effect.
func parseToleration(spec string) (corev1.Toleration, error) {
	rest, effect, _ := strings.Cut(spec, ":")
	key, value, hasValue := strings.Cut(rest, "=")
	t := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffect(effect)}
	if hasValue {
		t.Operator, t.Value = corev1.TolerationOpEqual, value
	}
	if key == "" {
		return t, fmt.Errorf("--toleration %q: give KEY[=VALUE][:EFFECT]", spec)
	}
	return t, nil
}

func (o *WarmOptions) completeClients() error {
	cfg, err := o.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return err
	}
	if o.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	o.client, err = kubernetes.NewForConfig(cfg)
	return err
}

// Validate checks every flag and image before the cluster is touched.
func (o *WarmOptions) Validate() error {
	if err := warmOutputs.validate("warm", *o.PrintFlags.OutputFormat); err != nil {
		return err
	}
	if o.Wait && (o.dryRun != DryRunNone || *o.PrintFlags.OutputFormat != "") {
		return fmt.Errorf("--wait shows progress; it does not go with --dry-run or --output")
	}
	if o.Wait && o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.FromAudit && (o.Top < 1 || o.Concurrency < 1) {
		return fmt.Errorf("--top and --registry-concurrency must be at least 1")
	}
	if err := o.cfg.ValidateSettings(); err != nil {
		return flagError(err, warmFlags)
	}
	if len(o.cfg.Images) > 0 || !o.FromAudit {
		return flagError(o.cfg.ValidateImages(), warmFlags)
	}
	return nil
}

// Run adds the audit's images (--from-audit), renders and applies (or
// prints) the objects.
func (o *WarmOptions) Run(ctx context.Context) error {
	if o.FromAudit {
		fromAudit, err := o.auditImages(ctx)
		if err != nil {
			return err
		}
		o.cfg.Images = append(o.cfg.Images, fromAudit...)
		if err := o.cfg.ValidateImages(); err != nil {
			return flagError(err, warmFlags)
		}
	}
	objs, err := warm.Render(o.cfg)
	if err != nil {
		return err
	}
	if o.dryRun != DryRunClient {
		mapper, err := o.RESTClientGetter.ToRESTMapper()
		if err != nil {
			return err
		}
		extra := warm.NamespaceNeeds(o.cfg.Namespace)
		if o.Wait {
			extra = append(extra, warm.FollowNeeds(o.cfg.Namespace)...)
		}
		if err := warm.Preflight(ctx, o.client.AuthorizationV1(), mapper, objs, extra...); err != nil {
			return err
		}
		if err := warm.ClaimNamespace(ctx, o.client, o.cfg.Namespace); err != nil {
			return err
		}
		if objs, err = warm.Apply(ctx, o.dynamic, mapper, objs, o.dryRun == DryRunServer); err != nil {
			return err
		}
	}
	format := *o.PrintFlags.OutputFormat
	if format == "" && o.dryRun != DryRunNone {
		format = "yaml"
	}
	if format == "" {
		for _, obj := range objs {
			fmt.Fprintf(o.Out, "%s/%s serverside-applied\n", strings.ToLower(obj.GetKind()), obj.GetName())
		}
		if o.Wait {
			return o.waitForNodes(ctx)
		}
		fmt.Fprintf(o.Out, "warming %d images on %s nodes; follow with: kubectl winimage warm status -n %s\n", len(o.cfg.Images), o.cfg.OS, o.cfg.Namespace)
		return nil
	}
	*o.PrintFlags.OutputFormat = format
	printer, err := toPrinter(o.PrintFlags)
	if err != nil {
		return err
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, obj := range objs {
		list.Items = append(list.Items, *obj)
	}
	return printer.PrintObj(list, o.Out)
}

// auditImages runs the audit on the nodes warm will cover and returns its
// top images.
func (o *WarmOptions) auditImages(ctx context.Context) ([]string, error) {
	selector := labels.Set{}
	for k, v := range o.cfg.NodeSelector {
		selector[k] = v
	}
	selector["kubernetes.io/os"] = o.OS
	report, err := audit.Run(ctx, audit.Options{
		Client: o.client, NodeSelector: selector.String(),
		Sections: map[string]bool{audit.SectionImages: true},
		Resolver: &imagesize.Resolver{Concurrency: o.Concurrency},
	})
	if err != nil {
		return nil, fmt.Errorf("--from-audit: %w", err)
	}
	out := audit.TopImages(report, o.Top)
	if len(out) == 0 {
		return nil, fmt.Errorf("--from-audit: no images found on %s nodes", o.OS)
	}
	return out, nil
}

// proxy is the proxy environment given by the flags.
func (o *WarmOptions) proxy() map[string]string {
	env := map[string]string{}
	for k, v := range map[string]string{"HTTP_PROXY": o.HTTPProxy, "HTTPS_PROXY": o.HTTPSProxy, "NO_PROXY": o.NoProxy} {
		if v != "" {
			env[k] = v
		}
	}
	return env
}
