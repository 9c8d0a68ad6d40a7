//go:build linux

package cfnspec

import (
	"strings"
	"testing"
)

const validTemplate = `{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {
    "Schedule": {"Type": "String", "Default": "cron(0 6 * * ? *)"},
    "Subnet": {"Type": "AWS::EC2::Subnet::Id"}
  },
  "Resources": {
    "Component": {"Type": "AWS::ImageBuilder::Component", "Properties": {
      "Name": {"Fn::Sub": "${AWS::StackName}-warm"}, "Platform": "Windows", "Version": "1.0.0", "Data": "name: x"}},
    "Pipeline": {"Type": "AWS::ImageBuilder::ImagePipeline", "Properties": {
      "Name": "p", "InfrastructureConfigurationArn": {"Fn::GetAtt": ["Component", "Arn"]},
      "ImageRecipeArn": {"Ref": "Component"},
      "Schedule": {"ScheduleExpression": {"Ref": "Schedule"}, "PipelineExecutionStartCondition": "EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE"},
      "ImageTestsConfiguration": {"ImageTestsEnabled": true, "TimeoutMinutes": 90}}}
  },
  "Outputs": {"Arn": {"Value": {"Fn::GetAtt": "Component.Arn"}}}
}`

func TestValidTemplatePasses(t *testing.T) {
	if errs := ForTest(t).Validate([]byte(validTemplate)); len(errs) != 0 {
		t.Fatalf("a valid template was refused:\n%s", strings.Join(errs, "\n"))
	}
}

// Each broken template names its fault; the valid one above shows the
// checks are not simply refusing everything.
func TestBrokenTemplatesAreRefused(t *testing.T) {
	spec := ForTest(t)
	for _, tc := range []struct{ name, from, to, want string }{
		{"misspelled property", `"Platform": "Windows"`, `"Platfrom": "Windows"`, `unknown property "Platfrom"`},
		{"missing required property", `"Version": "1.0.0", `, ``, `required property "Version" missing`},
		{"value outside the allowed ones", `"Platform": "Windows"`, `"Platform": "Win"`, `"Win" is not one of`},
		{"wrong type", `"TimeoutMinutes": 90`, `"TimeoutMinutes": "90"`, `want type integer`},
		{"misspelled nested property", `"ImageTestsEnabled"`, `"ImageTestEnabled"`, `unknown property "ImageTestEnabled"`},
		{"unknown resource type", `"AWS::ImageBuilder::ImagePipeline"`, `"AWS::ImageBuilder::Pipeline"`, `unknown resource type`},
		{"Ref to nothing", `{"Ref": "Component"}`, `{"Ref": "Recipe"}`, `Ref "Recipe": no such resource or parameter`},
		{"GetAtt of an unknown attribute", `["Component", "Arn"]`, `["Component", "Id"]`, `has no attribute "Id"`},
		{"Sub of an unknown parameter", `${AWS::StackName}-warm`, `${Cluster}-warm`, `Ref "Cluster"`},
		{"Output of an unknown resource", `"Component.Arn"`, `"Recipe.Arn"`, `Fn::GetAtt Recipe.Arn: no such resource`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := strings.Replace(validTemplate, tc.from, tc.to, 1)
			if broken == validTemplate {
				t.Fatalf("the replacement of %s did not apply", tc.from)
			}
			errs := strings.Join(spec.Validate([]byte(broken)), "\n")
			if !strings.Contains(errs, tc.want) {
				t.Fatalf("want an error with %q, have:\n%s", tc.want, errs)
			}
		})
	}
}
