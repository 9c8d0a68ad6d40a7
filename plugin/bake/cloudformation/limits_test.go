//go:build linux

package cloudformation

import (
	"regexp"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
	"github.com/winimage-io/kubectl-winimage/test/servicemodel"
)

// imageBuilderFields maps each Image Builder resource's properties to the
// API member CloudFormation passes them to (botocore imagebuilder
// 2019-12-02): the structure and member whose constraints apply.
var imageBuilderFields = map[string]map[string][2]string{
	"AWS::ImageBuilder::Component": {"Name": {"CreateComponentRequest", "name"}, "Version": {"CreateComponentRequest", "semanticVersion"},
		"Description": {"CreateComponentRequest", "description"}, "ChangeDescription": {"CreateComponentRequest", "changeDescription"},
		"Data": {"CreateComponentRequest", "data"}},
	"AWS::ImageBuilder::ImageRecipe": {"Name": {"CreateImageRecipeRequest", "name"}, "Version": {"CreateImageRecipeRequest", "semanticVersion"},
		"Description": {"CreateImageRecipeRequest", "description"}, "ParentImage": {"CreateImageRecipeRequest", "parentImage"}},
	"AWS::ImageBuilder::DistributionConfiguration": {"Name": {"CreateDistributionConfigurationRequest", "name"},
		"Description": {"CreateDistributionConfigurationRequest", "description"}},
	"AWS::ImageBuilder::ImagePipeline":   {"Name": {"CreateImagePipelineRequest", "name"}, "Description": {"CreateImagePipelineRequest", "description"}},
	"AWS::ImageBuilder::LifecyclePolicy": {"Name": {"CreateLifecyclePolicyRequest", "name"}, "Description": {"CreateLifecyclePolicyRequest", "description"}},
	"AWS::ImageBuilder::InfrastructureConfiguration": {"Name": {"CreateInfrastructureConfigurationRequest", "name"},
		"Description": {"CreateInfrastructureConfigurationRequest", "description"}},
}

// Every value the template gives Image Builder fits the service model's
// own constraints (names 3 to 128, AMI names at most 127, inline data at
// most 16,000 characters…), for the shortest and the longest cluster name
// EKS takes with the default name prefix, and for every prefix of 1 to 3
// and of 90 to 92 characters that the template's own pattern lets a user
// give.
func TestTheTemplateFitsTheServiceModels(t *testing.T) {
	model, err := servicemodel.Load("imagebuilder")
	if err != nil {
		t.Fatal(err)
	}
	for shape, p := range cfnShapes(t) {
		t.Run(shape, func(t *testing.T) { fitsTheModel(t, model, p) })
	}
}

func fitsTheModel(t *testing.T, model *servicemodel.Model, p *bake.Plan) {
	cases := []struct{ cluster, prefix string }{{cluster: "a"}, {cluster: strings.Repeat("c", 100)}}
	for _, n := range []int{1, 2, 3, 90, 91, 92} {
		cases = append(cases, struct{ cluster, prefix string }{"prod", strings.Repeat("p", n)})
	}
	for _, c := range cases {
		tree := templateTreeWith(t, p, Options{ClusterName: c.cluster})
		d := deploy(t, tree)
		pattern := regexp.MustCompile(at(t, tree, "Parameters.NamePrefix.AllowedPattern").(string))
		if !pattern.MatchString(d.params[paramPrefix]) {
			t.Errorf("cluster of %d characters: the default prefix %q breaks the template's own pattern %s", len(c.cluster), d.params[paramPrefix], pattern)
		}
		if c.prefix != "" {
			if !pattern.MatchString(c.prefix) {
				continue // CloudFormation refuses it before Image Builder sees it
			}
			d.params[paramPrefix] = c.prefix
		}
		for id, r := range d.resources {
			fields, ok := imageBuilderFields[r.(map[string]any)["Type"].(string)]
			if !ok {
				continue
			}
			props := r.(map[string]any)["Properties"].(map[string]any)
			for prop, member := range fields {
				if v, ok := props[prop]; ok {
					if err := model.Check(member[0], member[1], d.value(t, v)); err != nil {
						t.Errorf("prefix %q: %s.%s: %v", d.params[paramPrefix], id, prop, err)
					}
				}
			}
			for _, dist := range optional(props, "Distributions") {
				name := d.value(t, at(t, dist, "AmiDistributionConfiguration.Name"))
				if err := model.Check("AmiDistributionConfiguration", "name", name); err != nil {
					t.Errorf("prefix %q: %s AMI name: %v", d.params[paramPrefix], id, err)
				}
				for _, ssm := range optional(dist, "SsmParameterConfigurations") {
					if err := model.Check("SsmParameterConfiguration", "parameterName", d.value(t, at(t, ssm, "ParameterName"))); err != nil {
						t.Errorf("%s SSM parameter: %v", id, err)
					}
				}
			}
			for _, r := range optional(props, "ResourceSelection.Recipes") {
				for prop, member := range map[string]string{"Name": "name", "SemanticVersion": "semanticVersion"} {
					if err := model.Check("LifecyclePolicyResourceSelectionRecipe", member, d.value(t, at(t, r, prop))); err != nil {
						t.Errorf("prefix %q: %s recipe selection: %v", d.params[paramPrefix], id, err)
					}
				}
			}
		}
	}
}
