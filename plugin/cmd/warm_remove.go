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

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// WarmRemoveOptions drives `kubectl winimage warm remove`.
type WarmRemoveOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Timeout     time.Duration
	genericiooptions.IOStreams
}

// NewCmdWarmRemove wires WarmRemoveOptions.
func NewCmdWarmRemove(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WarmRemoveOptions{ConfigFlags: configFlags, Timeout: 2 * time.Minute, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Delete everything warm created and verify nothing is left",
		Long: `Delete every object warm created (found by the label
app.kubernetes.io/part-of=kubectl-winimage), then wait until none is left.
Images already warmed stay on the nodes, pinned.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Timeout <= 0 {
				return fmt.Errorf("--timeout must be positive")
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the objects to be gone")
	return cmd
}

// Run deletes and verifies.
func (o *WarmRemoveOptions) Run(ctx context.Context) error {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	mapper, err := o.ConfigFlags.ToRESTMapper()
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
