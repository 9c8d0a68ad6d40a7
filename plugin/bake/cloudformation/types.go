package cloudformation

import (
	"encoding/json"

	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/imagebuilder"
)

// goformation v7.14.9 lags AWS's resource specification in two properties
// the template needs; these types add them to goformation's own, and the
// template check against @aws-cdk/aws-service-spec in make test holds them
// to the specification.

// distribution is an Image Builder distribution with
// SsmParameterConfigurations (writes the new AMI's id to an SSM parameter).
type distribution struct {
	imagebuilder.DistributionConfiguration_Distribution
	SsmParameterConfigurations []ssmParameterConfiguration `json:"SsmParameterConfigurations,omitempty"`
}

// ssmParameterConfiguration is AWS::ImageBuilder::DistributionConfiguration
// SsmParameterConfiguration.
type ssmParameterConfiguration struct {
	ParameterName string `json:"ParameterName"`
	DataType      string `json:"DataType,omitempty"`
}

// distributionConfiguration is AWS::ImageBuilder::DistributionConfiguration
// over distribution.
type distributionConfiguration struct {
	Name          string            `json:"Name"`
	Description   string            `json:"Description,omitempty"`
	Distributions []distribution    `json:"Distributions"`
	Tags          map[string]string `json:"Tags,omitempty"`
}

// AWSCloudFormationType is its resource type, as goformation's resources
// say theirs.
func (d *distributionConfiguration) AWSCloudFormationType() string {
	return "AWS::ImageBuilder::DistributionConfiguration"
}

func (d *distributionConfiguration) MarshalJSON() ([]byte, error) {
	type properties distributionConfiguration
	return resourceJSON(d.AWSCloudFormationType(), properties(*d))
}

// resourceJSON is a resource as a template holds it: its type and its
// properties (props of a type without the MarshalJSON that calls this).
func resourceJSON(typ string, props any) ([]byte, error) {
	return json.Marshal(struct {
		Type       string `json:"Type"`
		Properties any    `json:"Properties"`
	}{typ, props})
}

// launchTemplateEbs is a launch template's EBS settings with
// VolumeInitializationRate (MiB/s at which a volume made from a snapshot
// is filled from S3 ahead of reads).
type launchTemplateEbs struct {
	ec2.LaunchTemplate_Ebs
	VolumeInitializationRate *int `json:"VolumeInitializationRate,omitempty"`
}

// launchTemplate is AWS::EC2::LaunchTemplate whose block devices take
// VolumeInitializationRate.
type launchTemplate struct {
	LaunchTemplateData launchTemplateData                                  `json:"LaunchTemplateData"`
	TagSpecifications  []ec2.LaunchTemplate_LaunchTemplateTagSpecification `json:"TagSpecifications,omitempty"`
	VersionDescription string                                              `json:"VersionDescription,omitempty"`
}

// launchTemplateData shadows goformation's BlockDeviceMappings (the
// shallower field wins in encoding/json).
type launchTemplateData struct {
	ec2.LaunchTemplate_LaunchTemplateData
	BlockDeviceMappings []launchTemplateBlockDevice `json:"BlockDeviceMappings,omitempty"`
}

type launchTemplateBlockDevice struct {
	DeviceName string            `json:"DeviceName"`
	Ebs        launchTemplateEbs `json:"Ebs"`
}

// AWSCloudFormationType is its resource type.
func (l *launchTemplate) AWSCloudFormationType() string { return "AWS::EC2::LaunchTemplate" }

func (l *launchTemplate) MarshalJSON() ([]byte, error) {
	type properties launchTemplate
	return resourceJSON(l.AWSCloudFormationType(), properties(*l))
}
