// Package cmd holds the cobra skin of kubectl-winimage: each file wires flags
// to an options struct and hands the work to a library package.
package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
)

// NewCmdRoot builds the `kubectl winimage` command tree. The kubectl global
// flags come from ConfigFlags, so `kubectl winimage --context X ...` reads
// the kubeconfig as every kubectl command does. (kubectl refuses flags
// placed before a plugin's name: `kubectl --context X winimage` fails.)
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	root, _ := newRoot(streams, nil)
	return root
}

// newRoot is NewCmdRoot with the ConfigFlags every command's clients come
// from. A clientset, when given, stands in for the one each command would
// build from them, as kubectl's test factory does for its commands (the
// command tests pass client-go's fake).
func newRoot(streams genericiooptions.IOStreams, clientset kubernetes.Interface) (*cobra.Command, *genericclioptions.ConfigFlags) {
	configFlags := genericclioptions.NewConfigFlags(true)
	var getter genericclioptions.RESTClientGetter = configFlags
	if clientset != nil {
		getter = fixedClientset{configFlags, clientset}
	}

	root := &cobra.Command{
		Use:   "kubectl-winimage",
		Short: "Keep Windows container images warm on EKS nodes",
		Long: `kubectl winimage audits Windows nodes and their images, warms images into
each node's containerd ahead of the pods that need them, and plans what to
bake into the next Windows AMI.`,
		Example: `  # What the Windows nodes run and what their pods wait for
  kubectl winimage audit
  # Pull and pin the images on every Windows node, and watch it happen
  kubectl winimage warm --from-audit --top 5 --wait
  # Plan the next AMI and write its Image Builder pipeline
  kubectl winimage bake -o cloudformation > warm-ami.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Shown as `kubectl winimage` when run through kubectl's plugin discovery.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl winimage"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	configFlags.AddFlags(root.PersistentFlags())
	limits := &clientLimits{}
	limits.addFlags(root.PersistentFlags())
	configFlags.WrapConfigFn = limits.wrap
	prof := &profiling{}
	prof.addFlags(root.PersistentFlags())
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if err := limits.validate(); err != nil {
			return err
		}
		return prof.start()
	}
	root.PersistentPostRunE = func(*cobra.Command, []string) error { return prof.stop() }

	root.AddCommand(NewCmdVersion(getter, streams))
	root.AddCommand(NewCmdAudit(getter, streams))
	root.AddCommand(NewCmdBake(getter, streams))
	root.AddCommand(NewCmdWarm(getter, streams))
	return root, configFlags
}

// fixedClientset is the root's flags with a clientset of its own.
type fixedClientset struct {
	*genericclioptions.ConfigFlags
	clientset kubernetes.Interface
}

func (f fixedClientset) KubernetesClientSet() (kubernetes.Interface, error) { return f.clientset, nil }
