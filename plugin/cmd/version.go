package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo"
	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

// VersionOptions drives `kubectl winimage version`.
type VersionOptions struct {
	RESTClientGetter genericclioptions.RESTClientGetter
	PrintFlags       *genericclioptions.PrintFlags
	ClientOnly       bool

	genericiooptions.IOStreams

	printer   printers.ResourcePrinter
	serverVer func(context.Context) (string, error)
}

// VersionReport is what `version -o json|yaml` prints.
type VersionReport struct {
	metav1.TypeMeta `json:",inline"`
	Client          buildinfo.Info `json:"client"`
	Server          string         `json:"serverVersion,omitempty"`
	ServerErr       string         `json:"serverError,omitempty"`
}

// DeepCopyObject satisfies runtime.Object; the report is never shared.
func (r *VersionReport) DeepCopyObject() runtime.Object { c := *r; return &c }

// NewVersionOptions returns options with output formats json and yaml.
func NewVersionOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *VersionOptions {
	return &VersionOptions{
		RESTClientGetter: getter,
		PrintFlags:       genericclioptions.NewPrintFlags(""),
		IOStreams:        streams,
	}
}

// NewCmdVersion wires VersionOptions to cobra.
func NewCmdVersion(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVersionOptions(getter, streams)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin version and the Kubernetes server version",
		Example: `  kubectl winimage version
  # The plugin's version only, without contacting the cluster
  kubectl winimage version --client -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.ClientOnly, "client", false, "Print only the plugin version; do not contact the cluster")
	o.PrintFlags.AddFlags(cmd)
	return cmd
}

// Complete builds the printer and the server-version lookup from the flags.
func (o *VersionOptions) Complete() error {
	if o.PrintFlags.OutputFormat != nil && *o.PrintFlags.OutputFormat != "" {
		p, err := toPrinter(o.PrintFlags)
		if err != nil {
			return err
		}
		o.printer = p
	}
	if o.serverVer == nil {
		o.serverVer = func(context.Context) (string, error) {
			dc, err := o.RESTClientGetter.ToDiscoveryClient()
			if err != nil {
				return "", err
			}
			v, err := dc.ServerVersion()
			if err != nil {
				return "", err
			}
			return v.GitVersion, nil
		}
	}
	return nil
}

// Validate accepts only the json and yaml output formats besides the default text.
func (o *VersionOptions) Validate() error {
	if f := o.PrintFlags.OutputFormat; f != nil && *f != "" && *f != "json" && *f != "yaml" {
		return fmt.Errorf("--output %q is not supported by version: use json or yaml", *f)
	}
	return nil
}

// Run prints the versions. An unreachable server is reported, not fatal in
// text mode, so `version` stays useful while debugging a kubeconfig; it is
// still a non-zero exit so scripts notice.
func (o *VersionOptions) Run(ctx context.Context) error {
	report := &VersionReport{TypeMeta: metav1.TypeMeta{APIVersion: "winimage.io/v1alpha1", Kind: "Version"}, Client: buildinfo.Get()}
	var serverErr error
	if !o.ClientOnly {
		report.Server, serverErr = o.serverVer(ctx)
		if serverErr != nil {
			report.ServerErr = serverErr.Error()
		}
	}
	if o.printer != nil {
		if err := o.printer.PrintObj(report, o.Out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(o.Out, "Client Version: %s (commit %s, %s, %s)\n", report.Client.Version, report.Client.Commit, report.Client.GoVersion, report.Client.Platform)
		if report.Client.DaemonImage != "" {
			fmt.Fprintf(o.Out, "Daemon Image: %s\n", report.Client.DaemonImage)
		}
		if report.Server != "" {
			// The server's answer, whatever it holds, on one line.
			fmt.Fprintf(o.Out, "Server Version: %s\n", terminal.Line(report.Server))
		}
	}
	if serverErr != nil {
		return fmt.Errorf("cannot reach the Kubernetes server: %w", serverErr)
	}
	return nil
}
