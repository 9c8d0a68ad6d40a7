package cloudformation

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/imagebuilder"
	"github.com/awslabs/goformation/v7/cloudformation/tags"
	"go.yaml.in/yaml/v3"

	"github.com/winimage-io/kubectl-winimage/plugin/awsami"
	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// AMI tags the distribution sets, for Karpenter's amiSelectorTerms and for
// the audit to recognise a baked AMI.
const (
	TagCluster    = "winimage.io/cluster"
	TagBuild      = "winimage.io/windows-build"
	TagKubernetes = "winimage.io/kubernetes-minor"
	TagPlan       = awsami.PlanDigestTag
)

// addBuild adds one build's component, recipe, Fast Launch template,
// distribution, pipeline and outputs.
func (t *Template) addBuild(bp *bake.BuildPlan, minor string, o Options) error {
	if bp.Launch.BaseAMIParameter == "" {
		return fmt.Errorf("build %d: no EKS-optimized AMI parameter (the server's Kubernetes minor is unknown), so there is no parent image", bp.Build)
	}
	components, err := templateComponents(bp, o)
	if err != nil {
		return err
	}
	release := releaseOf(bp)
	id := func(kind string) string { return kind + release }
	name := func(suffix string) string { return t.fn.Sub("${" + paramPrefix + "}-ws" + release + suffix) }
	vol := bp.Disk.RootVolume
	planDigest := digestOf(append(pinnedRefs(bp), strconv.Itoa(vol.SizeGiB))...)
	ssmName := "${" + paramAMIPrefix + "}/windows-" + release + "/image_id"

	refs, versions, err := t.addComponents(bp, components, id("Component"), planDigest)
	if err != nil {
		return err
	}
	recipe := &imagebuilder.ImageRecipe{
		Name:        name(""),
		Description: str(fmt.Sprintf("EKS-optimized Windows Server %s for Kubernetes %s with the warm images pre-pulled", bp.WindowsServer, minor)),
		ParentImage: "ssm:" + bp.Launch.BaseAMIParameter,
		Components:  refs,
		BlockDeviceMappings: []imagebuilder.ImageRecipe_InstanceBlockDeviceMapping{{DeviceName: str(vol.DeviceName),
			Ebs: &imagebuilder.ImageRecipe_EbsInstanceBlockDeviceSpecification{VolumeSize: integer(vol.SizeGiB), VolumeType: str(vol.VolumeType), DeleteOnTermination: boolean(true)}}},
	}
	// The recipe's Refs read the same for every component version, so its
	// version takes the components' versions too.
	if recipe.Version, err = t.versionOf(recipe, versions...); err != nil {
		return err
	}
	t.Resources[id("Recipe")] = recipe
	nodeGroup := t.addNodeGroupLaunchTemplate(bp, release)
	t.addDistribution(bp, release, minor, planDigest, ssmName, o.InstanceTypes[0], nodeGroup)
	t.Resources[id("Pipeline")] = &imagebuilder.ImagePipeline{
		Name: name(""), Description: str("Rebuilds the warm Windows Server " + bp.WindowsServer + " AMI when the EKS-optimized AMI changes"),
		ImageRecipeArn:                 str(t.fn.Ref(id("Recipe"))),
		InfrastructureConfigurationArn: t.fn.Ref(infrastructureID),
		DistributionConfigurationArn:   str(t.fn.Ref(id("Distribution"))),
		Schedule: &imagebuilder.ImagePipeline_Schedule{ScheduleExpression: str(t.fn.Ref(paramSchedule)),
			PipelineExecutionStartCondition: str(t.fn.Ref(paramCondition))},
		ImageTestsConfiguration:      &imagebuilder.ImagePipeline_ImageTestsConfiguration{ImageTestsEnabled: boolean(true), TimeoutMinutes: integer(90)},
		EnhancedImageMetadataEnabled: boolean(true),
		Status:                       str("ENABLED"),
	}
	return t.addOutputs(bp, release, ssmName)
}

// releaseOf names a build in the template's ids and names: its Windows
// Server release, or its build number where that is unknown.
func releaseOf(bp *bake.BuildPlan) string {
	if bp.WindowsServer != "" {
		return bp.WindowsServer
	}
	return strconv.Itoa(bp.Build)
}

// templateComponents are the build's components as the template carries
// them: the list-reading one with --image-list-uri, else the plan's,
// cut into parts where it passes what Image Builder takes inline.
func templateComponents(bp *bake.BuildPlan, o Options) ([]*bake.Component, error) {
	if o.ImageList != nil {
		c, err := bake.ComponentFromList(bp, o.Ctr, o.Generator, o.ImageList)
		if err != nil {
			return nil, err
		}
		return []*bake.Component{c}, nil
	}
	size, err := bake.DocumentSize(bp.Component)
	if err != nil || size <= bake.MaxInlineComponentData {
		return []*bake.Component{bp.Component}, err
	}
	return bake.ComponentParts(bp, o.Ctr, o.Generator, bake.MaxInlineComponentData)
}

// addComponents adds components as resources named baseID (or baseID
// Part1, Part2…) and returns the recipe's references to them, in order,
// and their versions. Components and recipes are immutable per name and
// version, and every property of either forces a replacement: a stack
// update that changes one (a volume-only change moves the component's
// ChangeDescription) with the same name and version fails with "already
// exists". Each version is therefore the digest of all its resource's
// properties.
func (t *Template) addComponents(bp *bake.BuildPlan, components []*bake.Component, baseID, planDigest string) ([]imagebuilder.ImageRecipe_ComponentConfiguration, []string, error) {
	var refs []imagebuilder.ImageRecipe_ComponentConfiguration
	var versions []string
	for k, component := range components {
		data, err := component.YAML()
		if err != nil {
			return nil, nil, err
		}
		resourceID, suffix := baseID, ""
		if len(components) > 1 {
			resourceID, suffix = fmt.Sprintf("%sPart%d", baseID, k+1), fmt.Sprintf("-part%d", k+1)
		}
		comp := &imagebuilder.Component{
			Name: t.fn.Sub("${" + paramPrefix + "}-prepull-" + strconv.Itoa(bp.Build) + suffix), Platform: "Windows",
			Data: str(string(data)), Description: str(component.Description),
			ChangeDescription: str("plan " + planDigest),
		}
		if comp.Version, err = t.versionOf(comp); err != nil {
			return nil, nil, err
		}
		t.Resources[resourceID] = comp
		refs = append(refs, imagebuilder.ImageRecipe_ComponentConfiguration{ComponentArn: str(t.fn.Ref(resourceID))})
		versions = append(versions, comp.Version)
	}
	return refs, versions, nil
}

// addDistribution adds the build's Fast Launch template and distribution:
// AMI tags, Fast Launch with the plan's counts, the AMI id to SSM.
func (t *Template) addDistribution(bp *bake.BuildPlan, release, minor, planDigest, ssmName, instanceType string, nodeGroup imagebuilder.DistributionConfiguration_LaunchTemplateConfiguration) {
	id := func(kind string) string { return kind + release }
	// Fast Launch pre-provisions by launching the AMI: without a default
	// VPC it needs a launch template that places the instances. Image
	// Builder's service-linked role may enable Fast Launch only with a
	// launch template tagged CreatedBy: EC2 Image Builder (AWS managed
	// policy AWSServiceRoleForImageBuilder v28, ec2:EnableFastLaunch on
	// ec2:ResourceTag/CreatedBy); the AMIs it creates carry that tag (its
	// ec2:CreateTags on CreateImage). Its launches take IMDSv2 only, as
	// accounts that enforce IMDSv2 require.
	t.Resources[id("FastLaunchTemplate")] = &ec2.LaunchTemplate{
		TagSpecifications: []ec2.LaunchTemplate_LaunchTemplateTagSpecification{{ResourceType: str("launch-template"),
			Tags: []tags.Tag{{Key: "CreatedBy", Value: "EC2 Image Builder"}, {Key: TagCluster, Value: t.fn.Ref(paramCluster)}}}},
		LaunchTemplateData: &ec2.LaunchTemplate_LaunchTemplateData{
			InstanceType: str(instanceType),
			NetworkInterfaces: []ec2.LaunchTemplate_NetworkInterface{{DeviceIndex: integer(0), SubnetId: str(t.fn.Ref(paramSubnet)),
				Groups: []string{t.fn.Ref(paramGroup)}, DeleteOnTermination: boolean(true)}},
			MetadataOptions: &ec2.LaunchTemplate_MetadataOptions{HttpTokens: str("required"), HttpEndpoint: str("enabled")},
		}}
	fl := bp.Launch.FastLaunch
	t.Resources[id("Distribution")] = &distributionConfiguration{Name: t.fn.Sub("${" + paramPrefix + "}-ws" + release),
		Description: "Tags the warm AMI, pre-provisions Fast Launch snapshots and publishes its id",
		Distributions: []distribution{{
			DistributionConfiguration_Distribution: imagebuilder.DistributionConfiguration_Distribution{
				Region: t.fn.Ref("AWS::Region"),
				AmiDistributionConfiguration: &imagebuilder.DistributionConfiguration_AmiDistributionConfiguration{
					Name: str(t.fn.Sub("${" + paramPrefix + "}-ws" + release + "-{{ imagebuilder:buildDate }}")),
					AmiTags: map[string]string{TagCluster: t.fn.Ref(paramCluster), TagBuild: strconv.Itoa(bp.Build),
						TagKubernetes: minor, TagPlan: planDigest},
				},
				FastLaunchConfigurations: []imagebuilder.DistributionConfiguration_FastLaunchConfiguration{{
					Enabled: boolean(true), MaxParallelLaunches: integer(fl.MaxParallelLaunches),
					LaunchTemplate: &imagebuilder.DistributionConfiguration_FastLaunchLaunchTemplateSpecification{
						LaunchTemplateId:      str(t.fn.Ref(id("FastLaunchTemplate"))),
						LaunchTemplateVersion: str(t.fn.GetAtt(id("FastLaunchTemplate"), "LatestVersionNumber"))},
					SnapshotConfiguration: &imagebuilder.DistributionConfiguration_FastLaunchSnapshotConfiguration{TargetResourceCount: integer(fl.SnapshotCount)},
				}},
				LaunchTemplateConfigurations: []imagebuilder.DistributionConfiguration_LaunchTemplateConfiguration{nodeGroup},
			},
			SsmParameterConfigurations: []ssmParameterConfiguration{{ParameterName: t.fn.Sub(ssmName), DataType: "aws:ec2:image"}},
		}},
	}
}

// versionOf is a semantic version derived from all of resource's
// properties (its Version still empty) and extra. It hashes the resource
// as the template will hold it, with each intrinsic function in place of
// the token that stands for it: the tokens carry a nonce new for every
// template, and hashing them gave the same plan new versions each time.
func (t *Template) versionOf(resource any, extra ...string) (string, error) {
	tree, err := t.fn.resolve(resource)
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(tree)
	if err != nil {
		return "", err
	}
	return semver(append([]string{string(data)}, extra...)...), nil
}

func pinnedRefs(bp *bake.BuildPlan) []string {
	var out []string
	for _, c := range bp.Chosen() {
		out = append(out, c.Ref+"@"+c.Digest)
	}
	return out
}

// addOutputs adds the SSM parameter's name and the snippets that use the
// AMI: a Karpenter EC2NodeClass, a self-managed group's launch template
// data and the managed node group's launch template.
func (t *Template) addOutputs(bp *bake.BuildPlan, release, ssmName string) error {
	t.Outputs["AmiParameter"+release] = output{Description: "SSM parameter holding the newest warm Windows Server " + bp.WindowsServer + " AMI id",
		Value: t.fn.Sub(ssmName)}
	karpenter, err := karpenterSnippet(bp)
	if err != nil {
		return err
	}
	t.Outputs["Karpenter"+release] = output{Description: "EC2NodeClass spec fields that select the newest warm AMI by its tags (ebs.bake.VolumeInitializationRate needs a Karpenter whose EC2NodeClass has it, added in 2025 by aws/karpenter-provider-aws#8154; on an older one drop it and enable Fast Snapshot Restore on the AMI's snapshot instead)", Value: t.fn.Sub(karpenter)}
	lt, err := launchTemplateSnippet(bp, ssmName)
	if err != nil {
		return err
	}
	t.Outputs["SelfManagedLaunchTemplateData"+release] = output{Description: "LaunchTemplateData for a self-managed node group on the warm AMI (Auto Scaling resolves the SSM parameter at each launch; a managed node group cannot, use NodeGroupLaunchTemplateId" + release + ")", Value: t.fn.Sub(lt)}
	t.addNodeGroupOutputs(bp, release)
	return nil
}

// subVar marks where a snippet takes a template parameter; the rest of
// the snippet is escaped for Fn::Sub.
func subVar(name string) string { return "@@winimage-var:" + name + "@@" }

// subSnippet is v as YAML for an Fn::Sub output: written through JSON so
// goformation's json tags name the fields.
func subSnippet(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return "", err
	}
	if data, err = yaml.Marshal(tree); err != nil {
		return "", err
	}
	s := strings.ReplaceAll(string(data), "${", "${!")
	for _, name := range []string{paramCluster, paramAMIPrefix} {
		s = strings.ReplaceAll(s, subVar(name), "${"+name+"}")
	}
	return s, nil
}

func karpenterSnippet(bp *bake.BuildPlan) (string, error) {
	v := bp.Launch.RootVolume.EC2NodeClass
	return subSnippet(map[string]any{
		"amiFamily": "Windows" + bp.WindowsServer,
		"amiSelectorTerms": []any{map[string]any{"tags": map[string]string{
			TagCluster: subVar(paramCluster), TagBuild: strconv.Itoa(bp.Build)}}},
		// EC2NodeClass ebs.bake.VolumeInitializationRate: Karpenter added it in
		// 2025 (aws/karpenter-provider-aws#8154, documented by #8246); a
		// Karpenter older than that refuses the field, so the snippet's
		// output says which versions take it.
		"blockDeviceMappings": []any{map[string]any{"deviceName": v.DeviceName, "rootVolume": true,
			"ebs": map[string]any{"volumeSize": v.EBS.VolumeSize, "volumeType": v.EBS.VolumeType, "volumeInitializationRate": bake.VolumeInitializationRate}}},
	})
}

// launchTemplateSnippet is LaunchTemplateData for a self-managed node
// group: the AMI from the SSM parameter (EC2 resolves resolve:ssm: at each
// launch as Auto Scaling's role, whose AWS managed policy
// AutoScalingServiceRolePolicy v10 allows ssm:GetParameters, so the group
// takes a new AMI on its next instance refresh), the planned root volume,
// filled from S3 ahead of reads.
func launchTemplateSnippet(bp *bake.BuildPlan, ssmName string) (string, error) {
	v := bp.Launch.RootVolume.LaunchTemplate
	ebs := rootVolumeEbs(bake.RootVolume{SizeGiB: v.Ebs.VolumeSize, VolumeType: v.Ebs.VolumeType})
	param := strings.ReplaceAll(ssmName, "${"+paramAMIPrefix+"}", subVar(paramAMIPrefix))
	return subSnippet(map[string]any{
		"ImageId":             "resolve:ssm:" + param,
		"BlockDeviceMappings": []any{map[string]any{"DeviceName": v.DeviceName, "Ebs": ebs}},
		"UserData": map[string]any{"Fn::Base64": "<powershell>\n& 'C:\\Program Files\\Amazon\\EKS\\Start-EKSBootstrap.ps1' -EKSClusterName '" +
			subVar(paramCluster) + "' -KubeletExtraArgs '--node-labels=" + TagBuild + "=" + strconv.Itoa(bp.Build) + "'\n</powershell>\n"},
	})
}
