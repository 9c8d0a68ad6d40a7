package bake

import (
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

// PrintTable writes the plan for people: per build, the ranked images with
// the reason for each, then how to build, launch and use the AMI.
func PrintTable(w io.Writer, p *Plan) error {
	for i := range p.Builds {
		bp := &p.Builds[i]
		if i > 0 {
			fmt.Fprintln(w)
		}
		server := "Windows build " + fmt.Sprint(bp.Build)
		if bp.WindowsServer != "" {
			server = fmt.Sprintf("WINDOWS SERVER %s (build %d)", bp.WindowsServer, bp.Build)
		}
		fmt.Fprintf(w, "%s: %d nodes, sized for %s; chosen: %d of %d images, %s of %s\n", server, bp.Nodes, bp.HostOSVersion,
			len(bp.Chosen()), len(bp.Images), human(bp.ChosenBytes), human(bp.Disk.BudgetBytes))
		t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "RANK", Type: "string"}, {Name: "IMAGE", Type: "string"}, {Name: "STARTS", Type: "integer"},
			{Name: "PODS", Type: "integer"}, {Name: "PULLS", Type: "integer"}, {Name: "SIZE", Type: "string"},
			{Name: "COLD", Type: "string"}, {Name: "WHY", Type: "string"},
		}}
		for _, c := range bp.Images {
			rank := "-"
			if c.Chosen {
				rank = fmt.Sprint(c.Rank)
			}
			t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{rank, c.Ref, c.Starts, c.Pods, c.Pulls, human(c.Bytes), human(c.ColdBytes), c.Reason}})
		}
		if len(t.Rows) > 0 {
			if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(t, w); err != nil {
				return err
			}
		}
		l := bp.Launch
		if len(bp.OnBaseAMI) > 0 {
			fmt.Fprintf(w, "  counted as on the base AMI: %s\n", terminal.Cell(strings.Join(bp.OnBaseAMI, ", ")))
		}
		if l.BaseAMIParameter != "" {
			fmt.Fprintf(w, "  base AMI (parent image): %s\n", strings.Join(l.BaseAMICommand, " "))
		}
		if bp.Component != nil {
			fmt.Fprintf(w, "  component: kubectl winimage bake -o component --build %d > %s.yaml\n", bp.Build, bp.Component.Name)
		}
		if bp.IAMPolicy != nil {
			fmt.Fprintf(w, "  instance role policy (ECR %s): kubectl winimage bake -o policy --build %d\n", registryList(bp.ECR), bp.Build)
		}
		fmt.Fprintf(w, "  fast launch (busiest hour: %d new nodes): %s\n    %s\n", l.ScaleOutPerHour, strings.Join(l.FastLaunch.Command, " "), l.FastLaunch.Note)
		printDisk(w, bp)
		fmt.Fprintf(w, "  %s\n", l.NodeGroup)
		ebs := l.RootVolume.EC2NodeClass.EBS
		fmt.Fprintf(w, "  karpenter: EC2NodeClass amiFamily: %s, amiSelectorTerms: [{id: %s}], blockDeviceMappings: [{deviceName: %s, rootVolume: true, ebs: {volumeSize: %s, volumeType: %s, volumeInitializationRate: %d}}]\n",
			l.Karpenter.AMIFamily, NewAMI, l.RootVolume.EC2NodeClass.DeviceName, ebs.VolumeSize, ebs.VolumeType, ebs.VolumeInitializationRate)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", terminal.Cell(n))
	}
	return nil
}

func registryList(rs []ECRRegistry) string {
	hosts := make([]string, len(rs))
	for i, r := range rs {
		hosts[i] = r.Host
	}
	return strings.Join(hosts, ", ")
}

// printDisk says what the budget came from and where the root volume must
// be set (nodes take it from the launch template or EC2NodeClass).
func printDisk(w io.Writer, bp *BuildPlan) {
	d := bp.Disk
	fmt.Fprintf(w, "  disk: budget %s (%s); volume %s: %s; base use %s: %s\n", human(d.BudgetBytes), d.BudgetSource,
		human(d.VolumeBytes), d.VolumeSource, human(d.BaseUsageBytes), d.BaseUsageSource)
	if d.WantedVolumeGiB > 0 {
		fmt.Fprintf(w, "  disk: every candidate would fit a %d GiB root volume: rerun with --volume %dGi, and set that size below\n", d.WantedVolumeGiB, d.WantedVolumeGiB)
	}
	rv := bp.Launch.RootVolume.LaunchTemplate
	fmt.Fprintf(w, "  root volume (Image Builder recipe and launch template BlockDeviceMappings): DeviceName=%s,Ebs={VolumeSize=%d,VolumeType=%s,DeleteOnTermination=true}\n",
		rv.DeviceName, rv.Ebs.VolumeSize, rv.Ebs.VolumeType)
}
