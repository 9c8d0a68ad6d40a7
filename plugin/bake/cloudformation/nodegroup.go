package cloudformation

import (
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/imagebuilder"
	"github.com/awslabs/goformation/v7/cloudformation/tags"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// nodeGroupLabelValue is what a node group name must be to stand as the
// value of its nodes' eks.amazonaws.com/nodegroup label (a Kubernetes
// label value: 63 characters, alphanumeric at both ends), within EKS's
// own rule for node group names (letters, digits, - and _).
const nodeGroupLabelValue = `^[A-Za-z0-9]([A-Za-z0-9\-_]{0,61}[A-Za-z0-9])?$`

// nodeGroupHopLimit lets IMDSv2 answer through the one extra hop of a
// container's network, as the launch templates EKS makes for its own
// managed node groups do; IRSA or EKS Pod Identity keep pods off the node
// role.
const nodeGroupHopLimit = 2

// addNodeGroupLaunchTemplate adds the build's launch template for a
// managed node group and the parameter naming that group, and returns the
// distribution's configuration that gives the template a new default
// version with each new AMI.
//
// A managed node group cannot take resolve:ssm: for its image: EKS's
// node-group role (AWS managed policy AWSServiceRoleForAmazonEKSNodegroup
// v11) has no ssm:GetParameters (aws/containers-roadmap#1951:
// Client.SsmAccessDenied); and it moves to a new AMI only when told to
// use a new launch template version (update-nodegroup-version). Image
// Builder's role may create that version (AWSServiceRoleForImageBuilder
// v28: ec2:CreateLaunchTemplateVersion, ec2:ModifyLaunchTemplate on any
// launch template). EKS adds no user data to a custom AMI, so the
// bootstrap call here sets the eks.amazonaws.com/nodegroup labels EKS
// puts on its own AMI's nodes, the image label read from the instance's
// metadata at boot: the version Image Builder makes copies this user data
// and changes only the image.
func (t *Template) addNodeGroupLaunchTemplate(bp *bake.BuildPlan, release string) imagebuilder.DistributionConfiguration_LaunchTemplateConfiguration {
	id := "NodeGroupLaunchTemplate" + release
	groupParam := "NodeGroupName" + release
	t.Parameters[groupParam] = parameter{Type: "String", Default: "winimage-ws" + release, AllowedPattern: nodeGroupLabelValue,
		Description: "Name of the managed node group that launches from " + id + ": its nodes carry it in the eks.amazonaws.com/nodegroup label"}
	v := bp.Disk.RootVolume
	userData := "<powershell>\n" +
		"$ErrorActionPreference = 'Stop'\n" +
		"$imds = 'http://169.254.169.254/latest'\n" +
		"$token = Invoke-RestMethod -Method Put -Uri \"$imds/api/token\" -Headers @{'X-aws-ec2-metadata-token-ttl-seconds' = '300'}\n" +
		"$ami = Invoke-RestMethod -Uri \"$imds/meta-data/ami-id\" -Headers @{'X-aws-ec2-metadata-token' = $token}\n" +
		"& 'C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1' -EKSClusterName '${" + paramCluster + "}' -KubeletExtraArgs " +
		"\"--node-labels=" + TagBuild + "=" + strconv.Itoa(bp.Build) + ",eks.amazonaws.com/nodegroup=${" + groupParam + "},eks.amazonaws.com/nodegroup-image=$ami\"\n" +
		"</powershell>\n"
	data := launchTemplateData{
		LaunchTemplate_LaunchTemplateData: ec2.LaunchTemplate_LaunchTemplateData{
			MetadataOptions: &ec2.LaunchTemplate_MetadataOptions{HttpTokens: str("required"), HttpEndpoint: str("enabled"), HttpPutResponseHopLimit: integer(nodeGroupHopLimit)},
			UserData:        str(t.fn.Base64Sub(userData)),
		},
		BlockDeviceMappings: []launchTemplateBlockDevice{{DeviceName: v.DeviceName, Ebs: rootVolumeEbs(v)}},
	}
	t.Resources[id] = &launchTemplate{
		LaunchTemplateData: data,
		TagSpecifications: []ec2.LaunchTemplate_LaunchTemplateTagSpecification{{ResourceType: str("launch-template"),
			Tags: []tags.Tag{{Key: TagCluster, Value: t.fn.Ref(paramCluster)}, {Key: TagBuild, Value: strconv.Itoa(bp.Build)}}}},
		VersionDescription: "Before the first warm AMI: create the node group from a version Image Builder made",
	}
	return imagebuilder.DistributionConfiguration_LaunchTemplateConfiguration{LaunchTemplateId: str(t.fn.Ref(id)), SetDefaultVersion: boolean(true)}
}

func rootVolumeEbs(v bake.RootVolume) launchTemplateEbs {
	return launchTemplateEbs{LaunchTemplate_Ebs: ec2.LaunchTemplate_Ebs{VolumeSize: integer(v.SizeGiB), VolumeType: str(v.VolumeType), DeleteOnTermination: boolean(true)},
		VolumeInitializationRate: integer(bake.VolumeInitializationRate)}
}

// addNodeGroupOutputs says which launch template a managed node group
// uses and how to move it to the newest version.
func (t *Template) addNodeGroupOutputs(bp *bake.BuildPlan, release string) {
	lt, group := "${NodeGroupLaunchTemplate"+release+"}", "${NodeGroupName"+release+"}"
	t.Outputs["NodeGroupLaunchTemplateId"+release] = output{Description: "Launch template of a managed node group on the warm Windows Server " + bp.WindowsServer +
		" AMI: each pipeline run makes a version with the new AMI its default", Value: t.fn.Ref("NodeGroupLaunchTemplate" + release)}
	t.Outputs["NodeGroupUpdate"+release] = output{Description: "Moves the managed node group to the newest warm AMI (run after each pipeline run; EKS replaces its nodes in a rolling update)",
		Value: t.fn.Sub("aws eks update-nodegroup-version --cluster-name ${" + paramCluster + "} --nodegroup-name " + group +
			" --launch-template id=" + lt + ",version=$(aws ec2 describe-launch-templates --launch-template-ids " + lt +
			" --query 'LaunchTemplates[0].DefaultVersionNumber' --output text)")}
}
