//go:build linux

package cloudformation

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
	"github.com/winimage-io/kubectl-winimage/test/cfnspec"
)

// Every plan shape's template holds to AWS's resource specification
// (@aws-cdk/aws-service-spec): types, properties, required ones, allowed
// values, Ref and GetAtt targets.
func TestTemplateOfEveryShapeHoldsToTheSpecification(t *testing.T) {
	spec := cfnspec.ForTest(t)
	type shape struct {
		p    *bake.Plan
		list string
	}
	shapes := map[string]shape{}
	for name, p := range cfnShapes(t) {
		shapes[name] = shape{p: p}
	}
	shapes["image list in S3"] = shape{cfnShapes(t)["three builds"], "s3://warm-lists/prod.txt"}
	shapes["image list in SSM"] = shape{cfnShapes(t)["private ECR"], "ssm:/winimage/prod/images"}
	for name, sh := range shapes {
		t.Run(name, func(t *testing.T) {
			o := Options{ClusterName: "prod-east"}
			if sh.list != "" {
				var err error
				if o.ImageList, err = bake.ParseImageListURI(sh.list); err != nil {
					t.Fatal(err)
				}
			}
			tmpl, err := New(sh.p, o)
			if err != nil {
				t.Fatal(err)
			}
			data, err := tmpl.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if errs := spec.Validate(data); len(errs) > 0 {
				t.Fatalf("%d problems:\n%s", len(errs), strings.Join(errs, "\n"))
			}
		})
	}
}

// The same check refuses this template once a property is misspelled, a
// required one dropped or a value leaves its allowed set.
func TestSpecificationCheckRefusesABrokenTemplate(t *testing.T) {
	spec := cfnspec.ForTest(t)
	tmpl, err := New(cfnShapes(t)["one build"], Options{ClusterName: "prod-east"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := tmpl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"DataType": "aws:ec2:image"`, `"DataTyp": "aws:ec2:image"`, `unknown property "DataTyp"`},
		{`"ParentImage": `, `"ParentImages": `, `required property "ParentImage" missing`},
		{`"Platform": "Windows"`, `"Platform": "windows"`, `is not one of`},
		{`"TargetResourceCount": 1`, `"TargetResourceCount": "1"`, `want type integer`},
	} {
		broken := strings.Replace(string(data), tc.from, tc.to, 1)
		if broken == string(data) {
			t.Fatalf("%s not in the template", tc.from)
		}
		if errs := strings.Join(spec.Validate([]byte(broken)), "\n"); !strings.Contains(errs, tc.want) {
			t.Errorf("%s → %s: want %q, have:\n%s", tc.from, tc.to, tc.want, errs)
		}
	}
}

// The self-managed group's snippet is LaunchTemplateData that holds to
// the specification too (VolumeInitializationRate included), once pasted.
func TestSelfManagedSnippetHoldsToTheSpecification(t *testing.T) {
	spec := cfnspec.ForTest(t)
	tree := templateTree(t, cfnShapes(t)["one build"])
	sub, ok := at(t, tree, "Outputs.SelfManagedLaunchTemplateData2022.Value").(map[string]any)["Fn::Sub"].(string)
	if !ok {
		t.Fatal("the snippet output is no Fn::Sub string")
	}
	pasted := strings.NewReplacer("${AmiParameterPrefix}", "/winimage/prod-east", "${ClusterName}", "prod-east").Replace(sub)
	var data map[string]any
	if err := yaml.Unmarshal([]byte(pasted), &data); err != nil {
		t.Fatalf("snippet YAML: %v\n%s", err, pasted)
	}
	if data["BlockDeviceMappings"].([]any)[0].(map[string]any)["Ebs"].(map[string]any)["VolumeInitializationRate"] == nil {
		t.Fatalf("no VolumeInitializationRate:\n%s", pasted)
	}
	doc, err := json.Marshal(map[string]any{"Resources": map[string]any{"NodeTemplate": map[string]any{
		"Type": "AWS::EC2::LaunchTemplate", "Properties": map[string]any{"LaunchTemplateData": data}}}})
	if err != nil {
		t.Fatal(err)
	}
	if errs := spec.Validate(doc); len(errs) > 0 {
		t.Fatalf("snippet:\n%s\n%s", strings.Join(errs, "\n"), pasted)
	}
}
