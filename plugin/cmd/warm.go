package cmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/buildinfo"
	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/imagelist"
	"github.com/winimage-io/kubectl-winimage/daemon/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// WarmOptions drives `kubectl winimage warm`.
type WarmOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	PrintFlags  *genericclioptions.PrintFlags

	Images             []string
	FromFile           string
	FromAudit          bool
	Top                int
	Selector           string
	OS                 string
	DaemonImage        string
	PullSecrets        []string
	MaxConcurrentNodes int
	StartupTaint       string
	DryRun             string
	DiskThreshold      float64
	Wait               bool
	Timeout            time.Duration

	genericiooptions.IOStreams

	cfg     warm.Config
	dynamic dynamic.Interface
	client  kubernetes.Interface
}

// NewCmdWarm wires WarmOptions and the status and remove subcommands.
func NewCmdWarm(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WarmOptions{ConfigFlags: configFlags, PrintFlags: genericclioptions.NewPrintFlags("").WithDefaultOutput(""), OS: "windows", DaemonImage: buildinfo.DaemonImage, Top: 10, DryRun: "none", Timeout: time.Hour, IOStreams: streams}
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
	cmd.Flags().StringVar(&o.FromFile, "from-file", "", "file of images: one per line, or a daemon image list (images: [{ref: …}])")
	cmd.Flags().BoolVar(&o.FromAudit, "from-audit", false, "warm the images the audit finds on the selected nodes, most used first")
	cmd.Flags().IntVar(&o.Top, "top", o.Top, "with --from-audit, how many images")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "extra node labels (k=v,…) the nodes must have")
	cmd.Flags().StringVar(&o.OS, "os", o.OS, "node OS: windows (HostProcess) or linux (privileged pod)")
	cmd.Flags().StringVar(&o.DaemonImage, "daemon-image", o.DaemonImage, "daemon image (default: the one stamped into this build)")
	cmd.Flags().StringArrayVar(&o.PullSecrets, "pull-secret", nil, "pull secret in the daemon's namespace to mount (repeatable)")
	cmd.Flags().IntVar(&o.MaxConcurrentNodes, "max-concurrent-nodes", 0, "nodes pulling at once, cluster-wide (0: no limit)")
	cmd.Flags().StringVar(&o.StartupTaint, "startup-taint", "", "taint key the daemon removes from a node once it is warm")
	cmd.Flags().Float64Var(&o.DiskThreshold, "disk-threshold", 0.85, "skip an image that would fill containerd's volume above this fraction (match kubelet's imageGCHighThresholdPercent)")
	cmd.Flags().StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", "client" (print only) or "server" (validated by the API server, not stored)`)
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow per-node progress until every node is ready or failed")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "with --wait, how long to wait")
	o.PrintFlags.AddFlags(cmd)
	cmd.AddCommand(NewCmdWarmStatus(configFlags, streams), NewCmdWarmRemove(configFlags, streams))
	return cmd
}

// warmNamespace is -n when given, else winimage-system.
func warmNamespace(cmd *cobra.Command, flags *genericclioptions.ConfigFlags) (string, error) {
	if !cmd.Flags().Changed("namespace") {
		return contract.DefaultNamespace, nil
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// Complete gathers the image list and builds the configuration.
func (o *WarmOptions) Complete(cmd *cobra.Command) error {
	ns, err := warmNamespace(cmd, o.ConfigFlags)
	if err != nil {
		return err
	}
	images := append([]string(nil), o.Images...)
	if o.FromFile != "" {
		fromFile, err := readImageFile(o.FromFile)
		if err != nil {
			return err
		}
		images = append(images, fromFile...)
	}
	sel := map[string]string{}
	if o.Selector != "" {
		set, err := labels.ConvertSelectorToLabelsMap(o.Selector)
		if err != nil {
			return fmt.Errorf("--selector %q: only k=v,… is possible in a DaemonSet's nodeSelector: %v", o.Selector, err)
		}
		sel = set
	}
	if o.DryRun != "client" || o.FromAudit {
		cfg, err := o.ConfigFlags.ToRESTConfig()
		if err != nil {
			return err
		}
		if o.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
			return err
		}
		if o.client, err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
	}
	if o.FromAudit {
		fromAudit, err := o.auditImages(cmd.Context(), sel)
		if err != nil {
			return err
		}
		images = append(images, fromAudit...)
	}
	o.cfg = warm.Config{Namespace: ns, OS: o.OS, DaemonImage: o.DaemonImage, Images: images, PullSecrets: o.PullSecrets,
		NodeSelector: sel, MaxConcurrentNodes: o.MaxConcurrentNodes, StartupTaint: o.StartupTaint, DiskThreshold: o.DiskThreshold}
	return nil
}

// Validate checks every flag and image before the cluster is touched.
func (o *WarmOptions) Validate() error {
	switch o.DryRun {
	case "none", "client", "server":
	default:
		return fmt.Errorf(`--dry-run %q: use "none", "client" or "server"`, o.DryRun)
	}
	if f := *o.PrintFlags.OutputFormat; f != "" && f != "yaml" && f != "json" && f != "name" {
		return fmt.Errorf("--output %q: use yaml, json or name", f)
	}
	if o.Wait && (o.DryRun != "none" || *o.PrintFlags.OutputFormat != "") {
		return fmt.Errorf("--wait shows progress; it does not go with --dry-run or --output")
	}
	if o.Wait && o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.FromAudit && o.Top < 1 {
		return fmt.Errorf("--top must be at least 1")
	}
	return o.cfg.Validate()
}

// Run renders and applies (or prints) the objects.
func (o *WarmOptions) Run(ctx context.Context) error {
	objs, err := warm.Render(o.cfg)
	if err != nil {
		return err
	}
	if o.DryRun != "client" {
		mapper, err := o.ConfigFlags.ToRESTMapper()
		if err != nil {
			return err
		}
		if objs, err = warm.Apply(ctx, o.dynamic, mapper, objs, o.DryRun == "server"); err != nil {
			return err
		}
	}
	format := *o.PrintFlags.OutputFormat
	if format == "" && o.DryRun != "none" {
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
	printer, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, obj := range objs {
		list.Items = append(list.Items, *obj)
	}
	return printer.PrintObj(list, o.Out)
}

// readImageFile reads one reference per line (# comments allowed) or a
// daemon image list.
func readImageFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(strings.TrimSpace(string(data)), "images:") {
		l, err := imagelist.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var out []string
		for _, img := range l.Images {
			out = append(out, img.Ref)
		}
		return out, nil
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, nil
}

// auditImages runs the audit on the nodes warm will cover and returns the
// top images by pods using them, then by size.
func (o *WarmOptions) auditImages(ctx context.Context, sel map[string]string) ([]string, error) {
	selector := labels.Set(sel)
	selector["kubernetes.io/os"] = o.OS
	report, err := audit.Run(ctx, audit.Options{
		Client: o.client, NodeSelector: selector.String(),
		Sections: map[string]bool{audit.SectionImages: true},
		Resolver: &imagesize.Resolver{Concurrency: 8},
	})
	if err != nil {
		return nil, fmt.Errorf("--from-audit: %w", err)
	}
	imgs := append([]audit.Image(nil), report.Images...)
	size := func(i audit.Image) int64 {
		var s int64
		for _, p := range i.Platforms {
			s = max(s, p.Size)
		}
		return s
	}
	sort.SliceStable(imgs, func(a, b int) bool {
		if imgs[a].Pods != imgs[b].Pods {
			return imgs[a].Pods > imgs[b].Pods
		}
		return size(imgs[a]) > size(imgs[b])
	})
	var out []string
	for _, img := range imgs {
		if img.Error != "" {
			continue
		}
		out = append(out, img.Ref)
		if len(out) == o.Top {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--from-audit: no images found on %s nodes", o.OS)
	}
	return out, nil
}
