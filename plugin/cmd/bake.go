package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/bake"
	"github.com/winimage-io/kubectl-winimage/plugin/bake/cloudformation"
	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

// BakeOptions drives `kubectl winimage bake`.
type BakeOptions struct {
	RESTClientGetter genericclioptions.RESTClientGetter
	PrintFlags       *genericclioptions.PrintFlags

	Selector    string
	MaxBytes    string
	Volume      string
	BaseUsage   string
	OnDiskRatio float64
	NodeStats   bool
	Top         int
	MinPods     int
	AMICached   []string
	Ctr         string
	Builds      []int
	Concurrency int
	// ClusterName and BuildInstanceTypes shape -o cloudformation.
	ClusterName        string
	BuildInstanceTypes []string
	ImageListURI       string

	genericiooptions.IOStreams

	namespace string
	format    string
	// clusterFromKubeconfig: ClusterName was not given but derived.
	clusterFromKubeconfig bool
	imageList             *bake.ImageListSource
	imageListErr          error
	budget                int64
	disk                  bake.DiskOptions
	client                kubernetes.Interface
	printer               printers.ResourcePrinter
	// lookupTimeout bounds each registry lookup: --request-timeout.
	lookupTimeout time.Duration
}

var bakeOutputs = outputFormats{"table", "json", "yaml", "component", "policy", "cloudformation", "image-list"}

// NewBakeOptions returns the defaults.
func NewBakeOptions(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *BakeOptions {
	return &BakeOptions{RESTClientGetter: getter, PrintFlags: genericclioptions.NewPrintFlags(""), Selector: "kubernetes.io/os=windows",
		MinPods: 1, OnDiskRatio: contract.OnDiskRatio, Ctr: bake.DefaultCtr, Concurrency: 8, IOStreams: streams}
}

// NewCmdBake wires BakeOptions to cobra.
func NewCmdBake(getter genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewBakeOptions(getter, streams)
	cmd := &cobra.Command{
		Use:   "bake",
		Short: "Plan the next Windows AMI: images to bake, an Image Builder component, IAM policy, Fast Launch",
		Long: `Plan what to bake into a custom Windows AMI, per Windows build (each build
is its own AMI), from what the audit sees: the images pods use on nodes of
the build, their real size for the build, and how often pods start with
them (current pods plus kubelet Pulled events).

Benefit of baking an image = bytes a new node would otherwise pull (layers
neither on the base EKS-optimized AMI, which caches servercore and
nanoserver, nor in an image already chosen: shared layers count once)
× pod starts. Images are chosen greedily by benefit per byte under a disk
budget per build, derived from the smallest root volume its nodes report
(ephemeral-storage capacity; --volume to plan for another size): pinned
images are never garbage-collected, so they may take half of what is left
under kubelet's 85% image GC threshold once the base use is counted, at
--on-disk-ratio times their compressed size. The base use is measured with
--node-stats (kubelet stats/summary through the API server, needs
nodes/proxy), else given by --base-usage, else assumed and said so.
--max-bytes sets the budget (compressed bytes) directly.

-o component prints the EC2 Image Builder component for one build (it
pulls each image by digest with ctr into containerd's k8s.io namespace,
pinned, tags it with the name pods use, and fails the build if any is
missing); -o policy the IAM policy its instance role needs for exactly the
ECR repositories used; -o json|yaml the whole plan, for pipelines.

-o image-list prints the chosen images of every build, a line each
("BUILD PINNED [TAG]"), for --image-list-uri.

-o cloudformation prints one CloudFormation template for every build with
images chosen: the component, an Image Builder recipe on the build's
EKS-optimized AMI (its SSM parameter) with the planned root volume, the
build instances' role and infrastructure, a distribution that tags the AMI
(winimage.io/cluster, -windows-build, -kubernetes-minor, -plan-digest),
turns on Fast Launch and writes the AMI id to an SSM parameter, and a
pipeline that rebuilds when the EKS AMI changes; its outputs are snippets
for a Karpenter EC2NodeClass and a node group launch template. Deploy it
with aws cloudformation deploy; the resource list goes to stderr. With
--image-list-uri the components read that list (upload -o image-list
there) when each AMI is built, so the list can change without the stack.`,
		Example: `  kubectl winimage bake
  kubectl winimage bake --top 5 --max-bytes 20Gi -o json
  kubectl winimage bake --build 20348 -o component > winimage-prepull-20348.yaml
  kubectl winimage bake --build 20348 -o policy > instance-role-policy.json
  kubectl winimage bake -o cloudformation > warm-ami.yaml
  aws cloudformation deploy --template-file warm-ami.yaml --stack-name winimage-warm-ami \
    --capabilities CAPABILITY_IAM --parameter-overrides SubnetId=subnet-0abc SecurityGroupId=sg-0abc`,
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
	cmd.Flags().StringVar(&o.MaxBytes, "max-bytes", "", "Disk budget per AMI, in compressed image bytes (e.g. 10Gi); default: derived from the nodes' root volumes")
	cmd.Flags().StringVar(&o.Volume, "volume", "", "Plan for root volumes of this size (e.g. 100Gi) instead of the nodes' current ones")
	cmd.Flags().StringVar(&o.BaseUsage, "base-usage", "", "Non-image disk use of a node (e.g. 22Gi) instead of the measured or assumed one")
	cmd.Flags().Float64Var(&o.OnDiskRatio, "on-disk-ratio", o.OnDiskRatio, "Size of a Windows layer once extracted over its compressed size")
	cmd.Flags().BoolVar(&o.NodeStats, "node-stats", false, "Measure the nodes' base disk use from kubelet's stats summary (needs nodes/proxy)")
	cmd.Flags().IntVar(&o.Top, "top", 0, "Choose at most this many images per build (0: no limit)")
	cmd.Flags().IntVar(&o.MinPods, "min-pods", o.MinPods, "Choose only images with at least this many pod starts")
	cmd.Flags().StringArrayVar(&o.AMICached, "ami-cached", nil, "Image the base AMI already caches (repeatable; default: the EKS-optimized AMI's servercore and nanoserver, at the digests the nodes report in status.images; \"none\" for nothing)")
	cmd.Flags().StringVar(&o.Ctr, "ctr", o.Ctr, "Path of ctr.exe on the Image Builder instance")
	cmd.Flags().IntSliceVar(&o.Builds, "build", nil, "Windows builds to plan for, e.g. 20348 (default: every build in the fleet)")
	cmd.Flags().IntVar(&o.Concurrency, "registry-concurrency", o.Concurrency, "Registry lookups in flight at once")
	cmd.Flags().StringVar(&o.ClusterName, "cluster-name", "", "EKS cluster name for -o cloudformation (default: from the kubeconfig's cluster)")
	cmd.Flags().StringSliceVar(&o.BuildInstanceTypes, "build-instance-types", cloudformation.DefaultBuildInstanceTypes, "Image Builder build instance types for -o cloudformation")
	cmd.Flags().StringVar(&o.ImageListURI, "image-list-uri", "", "For -o cloudformation: components read the image list from this S3 object or SSM parameter at build time (s3://BUCKET/KEY, ssm:/NAME; -o image-list prints it)")
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format: table (default), json, yaml, component, policy, cloudformation or image-list"
	return cmd
}

// Complete reads the flags.
func (o *BakeOptions) Complete(cmd *cobra.Command) error {
	var err error
	if o.namespace, err = explicitNamespace(cmd, o.RESTClientGetter); err != nil {
		return err
	}
	if o.lookupTimeout, err = requestTimeout(cmd); err != nil {
		return err
	}
	o.format = *o.PrintFlags.OutputFormat
	if o.format == "json" || o.format == "yaml" {
		p, err := toPrinter(o.PrintFlags)
		if err != nil {
			return err
		}
		o.printer = p
	}
	o.budget, o.disk.VolumeBytes, o.disk.BaseUsageBytes = sizeFlag(o.MaxBytes), sizeFlag(o.Volume), sizeFlag(o.BaseUsage)
	o.disk.OnDiskRatio = o.OnDiskRatio
	if o.format == "cloudformation" && o.ClusterName == "" {
		if o.ClusterName, err = kubeconfigClusterName(o.RESTClientGetter.ToRawKubeConfigLoader(), stringFlag(cmd, "context"), stringFlag(cmd, "cluster")); err != nil {
			return err
		}
		o.clusterFromKubeconfig = true
	}
	if o.ImageListURI != "" {
		o.imageList, o.imageListErr = bake.ParseImageListURI(o.ImageListURI)
	}
	if o.client == nil {
		if o.client, err = protobufClient(o.RESTClientGetter); err != nil {
			return err
		}
	}
	return nil
}

// Validate rejects bad flags before the cluster is read.
func (o *BakeOptions) Validate() error {
	if err := bakeOutputs.validate("bake", o.format); err != nil {
		return err
	}
	if _, err := labels.Parse(o.Selector); err != nil {
		return fmt.Errorf("--selector %q: %w", o.Selector, err)
	}
	for _, f := range []struct {
		name, value string
		bytes       int64
	}{{"--max-bytes", o.MaxBytes, o.budget}, {"--volume", o.Volume, o.disk.VolumeBytes}, {"--base-usage", o.BaseUsage, o.disk.BaseUsageBytes}} {
		if f.value != "" && f.bytes <= 0 {
			return fmt.Errorf("%s %q: give a positive size such as 10Gi", f.name, f.value)
		}
	}
	if o.OnDiskRatio < 1 {
		return fmt.Errorf("--on-disk-ratio %g: an extracted layer is at least its compressed size (give 1 or more)", o.OnDiskRatio)
	}
	if o.Top < 0 || o.MinPods < 0 {
		return fmt.Errorf("--top and --min-pods cannot be negative")
	}
	if o.Concurrency < 1 {
		return fmt.Errorf("--registry-concurrency must be at least 1")
	}
	for _, b := range o.Builds {
		if b <= 0 {
			return fmt.Errorf("--build %d: give a Windows build number such as 20348", b)
		}
	}
	if o.imageListErr != nil {
		return o.imageListErr
	}
	if o.ImageListURI != "" && o.format != "cloudformation" {
		return fmt.Errorf("--image-list-uri is for -o cloudformation")
	}
	if o.format == "cloudformation" {
		if err := cloudformation.CheckClusterName(o.ClusterName); err != nil {
			if o.clusterFromKubeconfig {
				return fmt.Errorf("the kubeconfig's cluster %q is no EKS cluster name: give --cluster-name", o.ClusterName)
			}
			return err
		}
		if len(o.BuildInstanceTypes) == 0 {
			return fmt.Errorf("--build-instance-types: give at least one instance type")
		}
	}
	if (o.format == "component" || o.format == "policy") && len(o.Builds) > 1 {
		return fmt.Errorf("-o %s is for one build: give one --build", o.format)
	}
	return nil
}

// Run audits, plans and prints.
func (o *BakeOptions) Run(ctx context.Context) error {
	resolver := &imagesize.Resolver{Concurrency: o.Concurrency, Timeout: o.lookupTimeout}
	report, err := audit.Run(ctx, audit.Options{
		Client: o.client, NodeSelector: o.Selector, Namespace: o.namespace,
		Sections: map[string]bool{audit.SectionImages: true, audit.SectionPulls: true},
		Resolver: resolver, Progress: progressWriter(o.ErrOut),
	})
	if err != nil {
		return err
	}
	opts := bake.Options{Limits: bake.Limits{MaxBytes: o.budget, Top: o.Top, MinPods: o.MinPods}, Ctr: o.Ctr,
		Generator: "kubectl-winimage " + buildinfo.Version, Disk: o.disk}
	var measureNotes []string
	if o.NodeStats {
		opts.Disk.MeasuredBaseUsage, measureNotes = bake.MeasureBaseUsage(ctx, o.client, report)
	}
	switch {
	case slices.Equal(o.AMICached, []string{"none"}):
		opts.AMICached = []string{}
	case len(o.AMICached) > 0:
		opts.AMICached = o.AMICached
	}
	if len(o.Builds) > 0 {
		opts.Builds = map[int]bool{}
		for _, b := range o.Builds {
			opts.Builds[b] = true
		}
	}
	plan, err := bake.Make(ctx, report, resolver, opts)
	if err != nil {
		return err
	}
	plan.Notes = append(plan.Notes, report.Skipped...)
	plan.Notes = append(plan.Notes, measureNotes...)
	switch o.format {
	case "json", "yaml":
		return o.printer.PrintObj(plan, o.Out)
	case "component", "policy":
		return o.printOne(plan)
	case "cloudformation":
		return o.printTemplate(plan)
	case "image-list":
		data, err := plan.ImageList()
		if err != nil {
			return err
		}
		_, err = o.Out.Write(data)
		return err
	}
	return bake.PrintTable(terminal.NewWriter(o.Out), plan)
}

// printTemplate prints the CloudFormation template, and its resources to
// stderr.
func (o *BakeOptions) printTemplate(plan *bake.Plan) error {
	t, err := cloudformation.New(plan, cloudformation.Options{ClusterName: o.ClusterName, InstanceTypes: o.BuildInstanceTypes,
		ImageList: o.imageList, Ctr: o.Ctr, Generator: "kubectl-winimage " + buildinfo.Version})
	if err != nil {
		return err
	}
	data, err := t.YAML()
	if err != nil {
		return err
	}
	if _, err := o.Out.Write(data); err != nil {
		return err
	}
	summary, errOut := t.Summary(), terminal.NewWriter(o.ErrOut)
	fmt.Fprintf(errOut, "CloudFormation template for cluster %s: %d resources\n", o.ClusterName, len(summary))
	for _, line := range summary {
		fmt.Fprintln(errOut, "  "+terminal.Cell(line))
	}
	if note := cloudformation.DeployNote(len(data)); note != "" {
		fmt.Fprintln(errOut, "note: "+note)
	}
	return nil
}

// printOne prints the component or the policy of the one build asked for
// (or the only build with a choice).
func (o *BakeOptions) printOne(plan *bake.Plan) error {
	bp, err := plan.Single(o.format)
	if err != nil {
		return err
	}
	if o.format == "component" {
		data, err := bp.Component.YAML()
		if err != nil {
			return err
		}
		_, err = o.Out.Write(data)
		return err
	}
	if bp.IAMPolicy == nil {
		return fmt.Errorf("build %d pulls from no private ECR repository: the instance role needs no ECR policy", bp.Build)
	}
	data, err := json.MarshalIndent(bp.IAMPolicy, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Out, "%s\n", data)
	return err
}

// sizeFlag is a size flag's bytes: 0 when unset, -1 when not a quantity.
func sizeFlag(v string) int64 {
	if v == "" {
		return 0
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return -1
	}
	return q.Value()
}
