package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/winimage-io/kubectl-winimage/plugin/awsami"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// Finding codes raised by the AWS lookups.
const (
	AMINotLatest    = "AMI_NOT_LATEST"
	AMINotPublic    = "AMI_NOT_PUBLIC"
	AMICustom       = "AMI_CUSTOM"
	AWSLookupFailed = "AWS_LOOKUP_FAILED"
)

// AMILookup is the part of awsami the audit uses.
type AMILookup interface {
	InstanceAMIs(ctx context.Context, instanceIDs []string) (map[string]string, error)
	Images(ctx context.Context, ids []string) (map[string]awsami.Image, error)
	Latest(ctx context.Context, f awsami.Family) (string, error)
}

func awsFailed(err error) finding.Finding {
	return finding.Finding{
		Code: AWSLookupFailed, Severity: finding.Warning, Message: "AWS lookup failed: " + err.Error(),
		Fix: "run with AWS credentials allowed ec2:DescribeInstances, ec2:DescribeImages and ssm:GetParameter, and --region of the cluster",
	}
}

// markAMILookupFailed says, on nodes whose AMI only EC2 could tell, that
// the lookup failed (rather than suggesting --aws, which was given).
func markAMILookupFailed(nodes []inventory.Node) {
	for i := range nodes {
		if nodes[i].AMI == "" && nodes[i].InstanceID != "" {
			nodes[i].AMISource = inventory.AMILookupError
		}
	}
}

// enrichFromAWS fills in AMIs of unlabeled nodes from EC2 and checks every
// AMI against EC2 (still public?) and SSM (the latest of its family?).
// AMIs tagged by a bake go to baked.
func enrichFromAWS(ctx context.Context, aws AMILookup, nodes []inventory.Node, baked *[]string) []finding.Finding {
	var out []finding.Finding
	var missing []string
	for _, n := range nodes {
		if n.AMI == "" && n.InstanceID != "" {
			missing = append(missing, n.InstanceID)
		}
	}
	if len(missing) > 0 {
		amis, err := aws.InstanceAMIs(ctx, missing)
		if err != nil {
			out = append(out, awsFailed(err))
			markAMILookupFailed(nodes)
		}
		for i := range nodes {
			if ami, ok := amis[nodes[i].InstanceID]; ok && nodes[i].AMI == "" {
				nodes[i].AMI, nodes[i].AMISource = ami, inventory.AMIFromEC2
			}
		}
	}
	byAMI := map[string][]string{}
	for _, n := range nodes {
		if n.AMI != "" {
			byAMI[n.AMI] = append(byAMI[n.AMI], n.Name)
		}
	}
	if len(byAMI) == 0 {
		return out
	}
	ids := slices.Sorted(maps.Keys(byAMI))
	images, err := aws.Images(ctx, ids)
	if err != nil {
		return append(out, awsFailed(err))
	}
	latest := map[awsami.Family]string{}
	for _, id := range ids {
		img, ok := images[id]
		if !ok || (!img.Public && img.OwnerAlias == "amazon") {
			out = append(out, finding.Finding{
				Code: AMINotPublic, Severity: finding.Warning, Nodes: byAMI[id],
				Message: fmt.Sprintf("AMI %s is no longer public (EKS keeps Windows AMIs public about 4 months): new nodes cannot be launched from it", id),
				Fix:     "move the node group to a current EKS-optimized Windows AMI, or to a custom AMI you own",
			})
			continue
		}
		if img.Plan != "" {
			*baked = append(*baked, id)
		}
		family, eks := awsami.FamilyOf(img.Name)
		if !eks {
			out = append(out, finding.Finding{
				Code: AMICustom, Severity: finding.Info, Nodes: byAMI[id],
				Message: fmt.Sprintf("AMI %s (%s) is a custom AMI; it is not compared with the EKS-optimized releases", id, img.Name),
			})
			continue
		}
		want, done := latest[family]
		if !done {
			want, err = aws.Latest(ctx, family)
			if err != nil {
				out = append(out, awsFailed(err))
				continue
			}
			latest[family] = want
		}
		if want != id {
			out = append(out, finding.Finding{
				Code: AMINotLatest, Severity: finding.Warning, Nodes: byAMI[id],
				Message: fmt.Sprintf("AMI %s (%s) is not the latest EKS-optimized Windows Server %s %s AMI for Kubernetes %s: that is %s (SSM %s)", id, img.Name, family.Release, family.Edition, family.Kubernetes, want, family.Parameter()),
				Fix:     "roll the node group to " + want + " (or rebuild your custom AMI on it)",
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
