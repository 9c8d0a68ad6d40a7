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
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// WarmStatusOptions drives `kubectl winimage warm status`.
type WarmStatusOptions struct {
	RESTClientGetter genericclioptions.RESTClientGetter
	PrintFlags       *genericclioptions.PrintFlags
	Watch            bool
	OS               string
	Selector         string
	genericiooptions.IOStreams

	namespace string
	extra     labels.Set
	client    kubernetes.Interface
	printer   printers.ResourcePrinter
	wide      bool
}

var statusOutputs = outputFormats{"wide", "json", "yaml"}

// NewWarmStatusOptions returns the defaults.
func NewWarmStatusOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *WarmStatusOptions {
	return &WarmStatusOptions{RESTClientGetter: getter, PrintFlags: genericclioptions.NewPrintFlags(""), OS: "windows", IOStreams: streams}
}

// NewCmdWarmStatus wires WarmStatusOptions.
func NewCmdWarmStatus(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewWarmStatusOptions(getter, streams)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Per-node warming progress: images ready, bytes, failures",
		Example: `  kubectl winimage warm status
  # Every image on every node, updated as the daemons report
  kubectl winimage warm status -o wide --watch
  # The nodes of one node group, as JSON
  kubectl winimage warm status -l eks.amazonaws.com/nodegroup=win-2022 -o json`,
		Args: cobra.NoArgs,
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
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "Keep printing as the daemons report progress")
	cmd.Flags().StringVar(&o.OS, "os", o.OS, "Node OS the DaemonSet covers")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Node label selector, k=v,… only (the DaemonSet's nodeSelector), besides kubernetes.io/os from --os")
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format: wide, json or yaml (default: table)"
	return cmd
}

// Complete builds the client and printer.
func (o *WarmStatusOptions) Complete(cmd *cobra.Command) error {
	var err error
	if o.namespace, err = warmNamespace(cmd, o.RESTClientGetter); err != nil {
		return err
	}
	if o.wide, o.printer, err = tableOrPrinter(o.PrintFlags); err != nil {
		return err
	}
	if o.extra, err = labels.ConvertSelectorToLabelsMap(o.Selector); err != nil {
		return fmt.Errorf("--selector %q: %v", o.Selector, err)
	}
	o.client, err = protobufClient(o.RESTClientGetter)
	return err
}

// Validate checks the flags.
func (o *WarmStatusOptions) Validate() error {
	if err := statusOutputs.validate("warm status", *o.PrintFlags.OutputFormat); err != nil {
		return err
	}
	if o.OS != "windows" && o.OS != "linux" {
		return fmt.Errorf("--os %q: use windows or linux", o.OS)
	}
	return nil
}

func (o *WarmStatusOptions) nodeSelector() string {
	return warm.NodeSelector(o.OS, o.extra)
}

func (o *WarmStatusOptions) print(r *warm.StatusReport) error {
	if o.printer != nil {
		return o.printer.PrintObj(r, o.Out)
	}
	return warm.PrintStatus(terminal.NewWriter(o.Out), r, o.wide)
}

// Run prints once, or with --watch again after each change the watches on
// the nodes, the daemon pods and the image list see (nodes are not polled).
func (o *WarmStatusOptions) Run(ctx context.Context) error {
	if !o.Watch {
		if err := warm.Require(ctx, o.client.AuthorizationV1(), "warm status", "it shows nothing", warm.StatusNeeds(o.namespace)); err != nil {
			return err
		}
		r, err := warm.Status(ctx, o.client, o.namespace, o.nodeSelector(), time.Now())
		if err != nil {
			return err
		}
		return o.print(r)
	}
	// Without list or watch the informers would retry for ever, silently.
	if err := warm.Require(ctx, o.client.AuthorizationV1(), "warm status -w", "it cannot follow", warm.FollowNeeds(o.namespace)); err != nil {
		return err
	}
	first := true
	var printErr error
	err := warm.Follow(ctx, o.client, o.namespace, o.nodeSelector(), func(r *warm.StatusReport) bool {
		if !first {
			fmt.Fprintln(o.Out)
		}
		first = false
		printErr = o.print(r)
		return printErr != nil
	})
	if printErr != nil {
		return printErr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}
