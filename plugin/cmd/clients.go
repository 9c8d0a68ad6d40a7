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

// protobufClient is a clientset that reads protobuf: lists of every pod in
// a large cluster decode several times faster than from JSON, as kubectl's
// own lists do.
func protobufClient(flags *genericclioptions.ConfigFlags) (kubernetes.Interface, error) {
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
func requestTimeout(flags *genericclioptions.ConfigFlags) (time.Duration, error) {
	if flags.Timeout == nil || *flags.Timeout == "" {
		return 0, nil
	}
	d, err := clientcmd.ParseTimeout(*flags.Timeout)
	if err != nil {
		return 0, fmt.Errorf("--request-timeout %q: %w", *flags.Timeout, err)
	}
	return d, nil
}

// explicitNamespace is -n when it was given, else "" (every namespace): the
// kubeconfig context's namespace is not a meaningful scope for a fleet.
func explicitNamespace(cmd *cobra.Command, flags *genericclioptions.ConfigFlags) (string, error) {
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
