package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// clientsetGetter is a RESTClientGetter that hands out its own clientset,
// as kubectl's cmdutil.Factory does with KubernetesClientSet; the command
// tests pass one backed by client-go's fake clientset, the plugin passes
// the root's ConfigFlags.
type clientsetGetter interface {
	genericclioptions.RESTClientGetter
	KubernetesClientSet() (kubernetes.Interface, error)
}

// protobufClient is a clientset that reads protobuf: lists of every pod in
// a large cluster decode several times faster than from JSON, as kubectl's
// own lists do.
func protobufClient(flags genericclioptions.RESTClientGetter) (kubernetes.Interface, error) {
	if f, ok := flags.(clientsetGetter); ok {
		return f.KubernetesClientSet()
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return kubernetes.NewForConfig(cfg)
}

// requestTimeout is --request-timeout as kubectl reads it (client-go
// v0.37.2 tools/clientcmd/helpers.go ParseTimeout): 0 when unset, which
// leaves each registry lookup its own default bound.
func requestTimeout(cmd *cobra.Command) (time.Duration, error) {
	v := stringFlag(cmd, "request-timeout")
	if v == "" {
		return 0, nil
	}
	d, err := clientcmd.ParseTimeout(v)
	if err != nil {
		return 0, fmt.Errorf("--request-timeout %q: %w", v, err)
	}
	return d, nil
}

// stringFlag is the value of one of kubectl's global flags, "" when the
// command was built without them (a command test on its own).
func stringFlag(cmd *cobra.Command, name string) string {
	v, _ := cmd.Flags().GetString(name)
	return v
}

// explicitNamespace is -n when it was given, else "" (every namespace): the
// kubeconfig context's namespace is not a meaningful scope for a fleet.
func explicitNamespace(cmd *cobra.Command, flags genericclioptions.RESTClientGetter) (string, error) {
	if !cmd.Flags().Changed("namespace") {
		return "", nil
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// tableOrPrinter reads -o for commands that print their own tables: ""
// and "wide" are tables (wide says which), anything else a cli-runtime
// printer.
func tableOrPrinter(flags *genericclioptions.PrintFlags) (wide bool, printer printers.ResourcePrinter, err error) {
	switch f := *flags.OutputFormat; f {
	case "", "wide":
		return f == "wide", nil, nil
	}
	printer, err = toPrinter(flags)
	return false, printer, err
}
