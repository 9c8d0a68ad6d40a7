package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// WarmRemoveOptions drives `kubectl winimage warm remove`.
type WarmRemoveOptions struct {
	RESTClientGetter genericclioptions.RESTClientGetter
	Timeout          time.Duration
	Unpin            bool
	RemoveUnused     bool
	genericiooptions.IOStreams

	namespace string
}

// NewWarmRemoveOptions returns the defaults.
func NewWarmRemoveOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *WarmRemoveOptions {
	return &WarmRemoveOptions{RESTClientGetter: getter, Timeout: 2 * time.Minute, IOStreams: streams}
}

// NewCmdWarmRemove wires WarmRemoveOptions.
func NewCmdWarmRemove(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewWarmRemoveOptions(getter, streams)
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Delete everything warm created and verify nothing is left",
		Long: `Delete every object warm created (found by the label
app.kubernetes.io/part-of=kubectl-winimage), then wait until none is left.
Images already warmed stay on the nodes, pinned, unless --unpin: then the
DaemonSet's pods first switch to the daemon's unpin mode on every node, and
the objects are deleted only once every node has reported. If a node does
not report within --timeout, nothing is deleted and running the command
again resumes.`,
		Example: `  kubectl winimage warm remove
  kubectl winimage warm remove --unpin --remove-unused --timeout 10m`,
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
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for each step (unpin on every node; objects gone)")
	cmd.Flags().BoolVar(&o.Unpin, "unpin", false, "First remove the daemon's pins on every node, so kubelet's image GC may reclaim the images")
	cmd.Flags().BoolVar(&o.RemoveUnused, "remove-unused", false, "With --unpin, also delete the images the daemon added that no container uses")
	return cmd
}

// Complete finds the namespace --unpin works in.
func (o *WarmRemoveOptions) Complete(cmd *cobra.Command) error {
	var err error
	o.namespace, err = warmNamespace(cmd, o.RESTClientGetter)
	return err
}

// Validate checks the flags.
func (o *WarmRemoveOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.RemoveUnused && !o.Unpin {
		return fmt.Errorf("--remove-unused goes with --unpin")
	}
	return nil
}

// Run unpins (with --unpin), deletes and verifies.
func (o *WarmRemoveOptions) Run(ctx context.Context) error {
	cfg, err := o.RESTClientGetter.ToRESTConfig()
	if err != nil {
		return err
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	mapper, err := o.RESTClientGetter.ToRESTMapper()
	if err != nil {
		return err
	}
	needs, err := warm.RemoveNeeds(mapper, o.namespace, o.Unpin)
	if err != nil {
		return err
	}
	if err := warm.Require(ctx, typed.AuthorizationV1(), "warm remove", "nothing was unpinned or deleted", needs); err != nil {
		return err
	}
	taints, err := warm.StartupTaints(ctx, typed)
	if err != nil {
		return err
	}
	if err := warm.Require(ctx, typed.AuthorizationV1(), "warm remove", "nothing was unpinned or deleted", warm.StartupTaintNeeds(taints)); err != nil {
		return err
	}
	if o.Unpin {
		p, err := warm.Unpin(ctx, typed, o.namespace, o.RemoveUnused, o.Timeout, func(r contract.UnpinResult) {
			fmt.Fprintf(o.Out, "node/%s unpinned %d image records, removed %d\n", terminal.Cell(r.Node), len(r.Unpinned)+r.MoreUnpinned, len(r.Removed)+r.MoreRemoved)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "unpinned on all %d nodes\n", p.Desired)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deleted, err := warm.Remove(ctx, client, mapper)
	for _, d := range deleted {
		fmt.Fprintf(o.Out, "%s deleted\n", strings.ToLower(d))
	}
	if err != nil {
		return err
	}
	if err := o.dropStartupTaints(ctx, typed, taints); err != nil {
		return err
	}
	var left []string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, o.Timeout, true, func(ctx context.Context) (bool, error) {
		left, err = warm.Leftovers(ctx, client, mapper)
		return len(left) == 0, err
	})
	if err != nil {
		return fmt.Errorf("still there after %s: %s", o.Timeout, strings.Join(left, ", "))
	}
	fmt.Fprintln(o.Out, "nothing left")
	return nil
}

// dropStartupTaints takes the daemon's startup taint off the nodes that
// still carry it, the DaemonSet being gone, and says what will keep adding
// it to new nodes.
func (o *WarmRemoveOptions) dropStartupTaints(ctx context.Context, client kubernetes.Interface, keys []string) error {
	err := warm.DropStartupTaints(ctx, client, keys, func(node, key string) {
		fmt.Fprintf(o.Out, "node/%s startup taint %s removed\n", node, terminal.Cell(key))
	})
	if err != nil {
		return err
	}
	for _, key := range keys {
		fmt.Fprintf(o.ErrOut, "note: nodes that join with the taint %s (a node group's or NodePool's startup taints) keep it now that no daemon removes it; take it out of that configuration\n", terminal.Cell(key))
	}
	return nil
}
