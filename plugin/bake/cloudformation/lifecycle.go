package cloudformation

import (
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/imagebuilder"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// Lifecycle ids and defaults.
const (
	lifecycleID     = "AmiLifecycle"
	lifecycleRoleID = "AmiLifecycleRole"
	paramKeepAMIs   = "KeepAmis"
	// defaultKeepAMIs: the EKS-optimized AMIs are released about monthly,
	// so five is about five months of rollback.
	defaultKeepAMIs = "5"
	// recentLaunchDays spares an AMI that launched an instance lately: a
	// node group not yet moved to a newer AMI still launches from it.
	recentLaunchDays = 30
)

// addLifecycle retires old warm AMIs: Image Builder deregisters every AMI
// of the template's recipes (any version: theirs is 1.0.<digest>) beyond
// the newest KeepAmis, with its snapshots, except one that launched an
// instance in the last 30 days. It runs as a role Image Builder assumes
// with AWS's managed policy EC2ImageBuilderLifecycleExecutionPolicy v1,
// which may act only on AMIs and snapshots tagged CreatedBy: EC2 Image
// Builder, as the ones it builds are.
func (t *Template) addLifecycle(builds []*bake.BuildPlan) {
	t.Parameters[paramKeepAMIs] = parameter{Type: "Number", Default: defaultKeepAMIs, MinValue: 1, MaxValue: 1000,
		Description: "How many of the newest warm AMIs of each build to keep; older ones are deregistered with their snapshots unless they launched an instance in the last 30 days"}
	t.Resources[lifecycleRoleID] = &iam.Role{
		Description: str("Image Builder lifecycle policy retiring old warm Windows AMIs"),
		AssumeRolePolicyDocument: map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"Service": "imagebuilder.amazonaws.com"}, "Action": "sts:AssumeRole"}}},
		ManagedPolicyArns: []string{t.fn.Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy")},
	}
	var recipes []imagebuilder.LifecyclePolicy_RecipeSelection
	for _, bp := range builds {
		recipes = append(recipes, imagebuilder.LifecyclePolicy_RecipeSelection{Name: t.fn.Sub("${" + paramPrefix + "}-ws" + releaseOf(bp)), SemanticVersion: "1.0.x"})
	}
	t.Resources[lifecycleID] = &lifecyclePolicy{
		Name:          t.fn.Sub("${" + paramPrefix + "}"),
		Description:   "Retires old warm Windows AMIs and their snapshots",
		ExecutionRole: t.fn.GetAtt(lifecycleRoleID, "Arn"),
		ResourceType:  "AMI_IMAGE",
		Status:        "ENABLED",
		PolicyDetails: []lifecyclePolicyDetail{{
			Action: &imagebuilder.LifecyclePolicy_Action{Type: "DELETE",
				IncludeResources: &imagebuilder.LifecyclePolicy_IncludeResources{Amis: boolean(true), Snapshots: boolean(true)}},
			Filter: lifecycleFilter{Type: "COUNT", Value: t.fn.Ref(paramKeepAMIs)},
			ExclusionRules: &imagebuilder.LifecyclePolicy_ExclusionRules{Amis: &imagebuilder.LifecyclePolicy_AmiExclusionRules{
				LastLaunched: &imagebuilder.LifecyclePolicy_LastLaunched{Unit: "DAYS", Value: recentLaunchDays}}},
		}},
		ResourceSelection: imagebuilder.LifecyclePolicy_ResourceSelection{Recipes: recipes},
	}
}

// lifecyclePolicy is AWS::ImageBuilder::LifecyclePolicy with a filter
// whose count is a parameter (goformation v7.14.9 types it int, where a
// Ref cannot stand).
type lifecyclePolicy struct {
	Name              string                                         `json:"Name"`
	Description       string                                         `json:"Description,omitempty"`
	ExecutionRole     string                                         `json:"ExecutionRole"`
	ResourceType      string                                         `json:"ResourceType"`
	Status            string                                         `json:"Status,omitempty"`
	PolicyDetails     []lifecyclePolicyDetail                        `json:"PolicyDetails"`
	ResourceSelection imagebuilder.LifecyclePolicy_ResourceSelection `json:"ResourceSelection"`
}

type lifecyclePolicyDetail struct {
	Action         *imagebuilder.LifecyclePolicy_Action         `json:"Action"`
	Filter         lifecycleFilter                              `json:"Filter"`
	ExclusionRules *imagebuilder.LifecyclePolicy_ExclusionRules `json:"ExclusionRules,omitempty"`
}

type lifecycleFilter struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// AWSCloudFormationType is its resource type.
func (l *lifecyclePolicy) AWSCloudFormationType() string { return "AWS::ImageBuilder::LifecyclePolicy" }

func (l *lifecyclePolicy) MarshalJSON() ([]byte, error) {
	type properties lifecyclePolicy
	return resourceJSON(l.AWSCloudFormationType(), properties(*l))
}
