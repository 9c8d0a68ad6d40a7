package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// WarmStatusOptions drives `kubectl winimage warm status`.
type WarmStatusOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	PrintFlags  *genericclioptions.PrintFlags
	Watch       bool
	OS          string
	Selector    string
	genericiooptions.IOStreams

	namespace string
	client    kubernetes.Interface
	printer   printers.ResourcePrinter
	wide      bool
}

// NewCmdWarmStatus wires WarmStatusOptions.
func NewCmdWarmStatus(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WarmStatusOptions{ConfigFlags: configFlags, PrintFlags: genericclioptions.NewPrintFlags(""), OS: "windows", IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Per-node warming progress: images ready, bytes, failures",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(cmd); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "keep printing as the daemons report progress")
	cmd.Flags().StringVar(&o.OS, "os", o.OS, "node OS the DaemonSet covers")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "extra node labels the DaemonSet selects")
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format: wide, json or yaml (default: table)"
	return cmd
}

// Complete builds the client and printer.
func (o *WarmStatusOptions) Complete(cmd *cobra.Command) error {
	var err error
	if o.namespace, err = warmNamespace(cmd, o.ConfigFlags); err != nil {
		return err
	}
	switch f := *o.PrintFlags.OutputFormat; f {
	case "", "wide":
		o.wide = f == "wide"
	default:
		if o.printer, err = o.PrintFlags.ToPrinter(); err != nil {
			return err
		}
	}
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	o.client, err = kubernetes.NewForConfig(cfg)
	return err
}

// Validate checks the flags.
func (o *WarmStatusOptions) Validate() error {
	if f := *o.PrintFlags.OutputFormat; f != "" && f != "wide" && f != "json" && f != "yaml" {
		return fmt.Errorf("--output %q: use wide, json or yaml", f)
	}
	if o.OS != "windows" && o.OS != "linux" {
		return fmt.Errorf("--os %q: use windows or linux", o.OS)
	}
	if _, err := labels.ConvertSelectorToLabelsMap(o.Selector); o.Selector != "" && err != nil {
		return fmt.Errorf("--selector %q: %v", o.Selector, err)
	}
	return nil
}

func (o *WarmStatusOptions) nodeSelector() string {
	set := labels.Set{}
	if o.Selector != "" {
		set, _ = labels.ConvertSelectorToLabelsMap(o.Selector)
	}
	set["kubernetes.io/os"] = o.OS
	return set.String()
}

func (o *WarmStatusOptions) print(ctx context.Context) error {
	r, err := warm.Status(ctx, o.client, o.namespace, o.nodeSelector(), time.Now())
	if err != nil {
		return err
	}
	if o.printer != nil {
		return o.printer.PrintObj(r, o.Out)
	}
	return warm.PrintStatus(o.Out, r, o.wide)
}

// Run prints once, or with --watch again whenever a daemon pod changes
// (an informer on the daemon pods; nodes are not polled).
func (o *WarmStatusOptions) Run(ctx context.Context) error {
	if err := o.print(ctx); err != nil || !o.Watch {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(o.client, 0, informers.WithNamespace(o.namespace))
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: poke, DeleteFunc: poke, UpdateFunc: func(_, n any) { poke(n) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		// Coalesce bursts: daemons publish at most every 2 s each.
		time.Sleep(500 * time.Millisecond)
		fmt.Fprintln(o.Out)
		if err := o.print(ctx); err != nil {
			return err
		}
	}
}
