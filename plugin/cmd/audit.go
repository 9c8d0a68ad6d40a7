package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/awsami"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

var auditOutputs = outputFormats{"wide", "json", "yaml"}

// amiID is EC2's image id form.
var amiID = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)

// AuditOptions drives `kubectl winimage audit`.
type AuditOptions struct {
	RESTClientGetter genericclioptions.RESTClientGetter
	PrintFlags       *genericclioptions.PrintFlags

	Selector   string
	Sections   []string
	FailOn     string
	NoRegistry bool
	// KubeletConfig reads each group's /configz (needs nodes/proxy).
	KubeletConfig bool
	Concurrency   int
	AWS           bool
	Region        string
	// Since bounds the startup section's history; BakedAMIs are AMIs a
	// bake produced; WarmNamespace holds warm's image list.
	Since         time.Duration
	BakedAMIs     []string
	WarmNamespace string

	genericiooptions.IOStreams

	namespace string
	client    kubernetes.Interface
	printer   printers.ResourcePrinter
	wide      bool
	sections  map[string]bool
	keychain  func(string) authn.Keychain
	// lookupTimeout bounds each registry lookup: --request-timeout.
	lookupTimeout time.Duration
}

// NewAuditOptions returns the defaults.
func NewAuditOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *AuditOptions {
	return &AuditOptions{
		RESTClientGetter: getter,
		PrintFlags:       genericclioptions.NewPrintFlags(""),
		Selector:         "kubernetes.io/os=windows",
		Sections:         audit.AllSections,
		FailOn:           "none",
		Concurrency:      8,
		Since:            audit.DefaultSince,
		WarmNamespace:    contract.DefaultNamespace,
		IOStreams:        streams,
	}
}

// NewCmdAudit wires AuditOptions to cobra.
func NewCmdAudit(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewAuditOptions(getter, streams)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Audit Windows nodes: AMI and kubelet skew, image sizes per OS build, compatibility, pull times",
		Long: `Audit the Windows nodes of the cluster and the images their pods use.

Reports each node's node group or pool, AMI, OS build and patch level,
kubelet and containerd; skew findings against the version-skew policy and
the one-AMI-everywhere advice; per image the size of the entry containerd
picks on each node's Windows build, shared base bytes and cache coverage;
pods whose image cannot run on their node's build; and pull times observed
in kubelet Pulled events.

Exit codes: 0 ok, 3 findings at or above --fail-on, 1 the audit failed.`,
		Example: `  kubectl winimage audit
  kubectl winimage audit -o wide --sections nodes,findings
  kubectl winimage audit -n shop -o json --fail-on=warning`,
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
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", o.Selector, "Node label selector")
	cmd.Flags().StringSliceVar(&o.Sections, "sections", o.Sections, "Sections to report: "+strings.Join(audit.AllSections, ","))
	cmd.Flags().StringVar(&o.FailOn, "fail-on", o.FailOn, "Exit 3 when a finding is at or above this severity: none, info, warning, error")
	cmd.Flags().BoolVar(&o.NoRegistry, "no-registry", false, "Do not contact image registries (no sizes, no OS-build compatibility)")
	cmd.Flags().IntVar(&o.Concurrency, "registry-concurrency", o.Concurrency, "Registry lookups in flight at once")
	cmd.Flags().BoolVar(&o.KubeletConfig, "kubelet-config", false, "Read each node group's kubelet configuration (/configz through the API server; needs get on nodes/proxy): credential verification of pre-pulled images, serial pulls, image GC thresholds")
	cmd.Flags().BoolVar(&o.AWS, "aws", false, "Look up AMIs in EC2 and the latest EKS-optimized AMIs in SSM (usual AWS credential chain)")
	cmd.Flags().StringVar(&o.Region, "region", "", "AWS region for --aws (default: from the AWS configuration)")
	cmd.Flags().DurationVar(&o.Since, "since", o.Since, "Startup section: nodes created and pods scheduled within this long (events older than kube-apiserver's --event-ttl, 1h by default, are gone and reported as missing)")
	cmd.Flags().StringSliceVar(&o.BakedAMIs, "baked-ami", nil, "Startup section: AMIs a bake produced, to split pod starts by (with --aws, AMIs tagged "+awsami.PlanDigestTag+" count too)")
	cmd.Flags().StringVar(&o.WarmNamespace, "warm-namespace", o.WarmNamespace, "Startup section: the namespace of warm's image list, to split pod starts at its last change")
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format: wide, json or yaml (default: tables)"
	return cmd
}

// Complete reads the flags into clients and printers.
func (o *AuditOptions) Complete(cmd *cobra.Command) error {
	var err error
	if o.namespace, err = explicitNamespace(cmd, o.RESTClientGetter); err != nil {
		return err
	}
	if o.wide, o.printer, err = tableOrPrinter(o.PrintFlags); err != nil {
		return err
	}
	if o.lookupTimeout, err = requestTimeout(cmd); err != nil {
		return err
	}
	if o.client == nil {
		if o.client, err = protobufClient(o.RESTClientGetter); err != nil {
			return err
		}
	}
	o.sections = map[string]bool{}
	for _, s := range o.Sections {
		o.sections[strings.TrimSpace(s)] = true
	}
	return nil
}

// Validate rejects bad flags before anything is contacted.
func (o *AuditOptions) Validate() error {
	if err := auditOutputs.validate("audit", *o.PrintFlags.OutputFormat); err != nil {
		return err
	}
	if _, err := labels.Parse(o.Selector); err != nil {
		return fmt.Errorf("--selector %q: %w", o.Selector, err)
	}
	for s := range o.sections {
		if !contains(audit.AllSections, s) {
			return fmt.Errorf("--sections: unknown section %q (choose from %s)", s, strings.Join(audit.AllSections, ", "))
		}
	}
	switch o.FailOn {
	case "none", string(finding.Info), string(finding.Warning), string(finding.Error):
	default:
		return fmt.Errorf("--fail-on %q: use none, info, warning or error", o.FailOn)
	}
	if o.Concurrency < 1 {
		return fmt.Errorf("--registry-concurrency must be at least 1")
	}
	if o.Since <= 0 {
		return fmt.Errorf("--since must be positive, e.g. 168h")
	}
	for _, ami := range o.BakedAMIs {
		if !amiID.MatchString(ami) {
			return fmt.Errorf("--baked-ami %q: not an AMI id (ami- and 8 or 17 hex digits)", ami)
		}
	}
	return nil
}

// Run audits and prints; findings at or above --fail-on return ExitError 3.
func (o *AuditOptions) Run(ctx context.Context) error {
	opts := audit.Options{
		Client:        o.client,
		NodeSelector:  o.Selector,
		Namespace:     o.namespace,
		Sections:      o.sections,
		Progress:      progressWriter(o.ErrOut),
		KubeletConfig: o.KubeletConfig,
		Since:         o.Since,
		BakedAMIs:     o.BakedAMIs,
		WarmNamespace: o.WarmNamespace,
	}
	if !o.NoRegistry {
		opts.Resolver = &imagesize.Resolver{Concurrency: o.Concurrency, Keychain: o.keychain, Timeout: o.lookupTimeout}
	}
	if o.AWS {
		lookup, err := awsami.New(ctx, o.Region)
		if err != nil {
			opts.AWSError = err
		} else {
			opts.AWS = lookup
		}
	}
	report, err := audit.Run(ctx, opts)
	if err != nil {
		return err
	}
	if o.printer != nil {
		err = o.printer.PrintObj(report, o.Out)
	} else {
		err = audit.PrintTables(terminal.NewWriter(o.Out), report, o.sections, o.wide, time.Now())
	}
	if err != nil {
		return err
	}
	if o.FailOn != "none" && finding.Worst(report.Findings).Rank() >= finding.Severity(o.FailOn).Rank() {
		return &ExitError{Code: ExitFindings, Err: fmt.Errorf("findings at or above %s: %d errors, %d warnings", o.FailOn, report.Summary.Errors, report.Summary.Warnings)}
	}
	return nil
}

// progressWriter is stderr when it is a terminal, else nothing, so piped
// and CI output stays clean.
func progressWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return terminal.NewWriter(f)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
