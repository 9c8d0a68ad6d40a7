//go:build linux

package cloudformation

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
	"github.com/winimage-io/kubectl-winimage/test/iamsim"
)

// The account and Region the template is evaluated in.
const (
	iamAccount = "123456789012"
	iamRegion  = "us-east-2"
)

// deployed is a template with its parameters at their defaults, as
// CloudFormation would create it: Ref and Fn::Sub resolved, each resource
// given a physical id.
type deployed struct {
	params    map[string]string
	resources map[string]any
}

func deploy(t *testing.T, tree map[string]any) *deployed {
	t.Helper()
	d := &deployed{params: map[string]string{"AWS::Region": iamRegion, "AWS::AccountId": iamAccount, "AWS::Partition": "aws"},
		resources: tree["Resources"].(map[string]any)}
	for name, p := range tree["Parameters"].(map[string]any) {
		if v, ok := p.(map[string]any)["Default"].(string); ok {
			d.params[name] = v
		}
	}
	return d
}

var subVarRE = regexp.MustCompile(`\$\{([^}!]+)\}`)

// value resolves v (a string, Ref or Fn::Sub) to what CloudFormation
// passes the service. A Ref to a resource is its physical id.
func (d *deployed) value(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			return d.ref(t, ref)
		}
		if sub, ok := v["Fn::Sub"].(string); ok {
			return subVarRE.ReplaceAllStringFunc(sub, func(m string) string { return d.ref(t, m[2:len(m)-1]) })
		}
	}
	t.Fatalf("cannot resolve %v", v)
	return ""
}

func (d *deployed) ref(t *testing.T, name string) string {
	if p, ok := d.params[name]; ok {
		return p
	}
	r, ok := d.resources[name].(map[string]any)
	if !ok {
		t.Fatalf("Ref to %s: no such parameter or resource", name)
	}
	switch r["Type"] {
	case "AWS::EC2::LaunchTemplate":
		return fmt.Sprintf("lt-%017x", len(name))
	}
	return name
}

// ofType lists the logical ids of the resources of typ, sorted.
func (d *deployed) ofType(typ string) []string {
	var ids []string
	for id, r := range d.resources {
		if r.(map[string]any)["Type"] == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// tagContext is tags as IAM's ec2:ResourceTag/ condition keys.
func tagContext(tags map[string]string) map[string]any {
	ctx := map[string]any{}
	for k, v := range tags {
		ctx["ec2:ResourceTag/"+k] = v
	}
	return ctx
}

// imageBuilderCalls are the requests Image Builder's service-linked role
// makes on the template's resources at each pipeline run: enabling Fast
// Launch on the new AMI and its launch template, and writing the AMI id to
// the SSM parameter. (Reading the parent AMI's public parameter is left
// out: AWS's public parameters have no account in their ARN,
// arn:aws:ssm:REGION::parameter/aws/service/…, and the evaluator's
// resource table takes none without one.)
func imageBuilderCalls(t *testing.T, d *deployed) []iamCall {
	call := func(what, action, resource string, ctx map[string]any) iamCall {
		return serviceCall(what, imageBuilderRole, "AWSServiceRoleForImageBuilder", action, resource, ctx)
	}
	var calls []iamCall
	for _, id := range d.ofType("AWS::ImageBuilder::DistributionConfiguration") {
		for i, dist := range at(t, d.resources[id], "Properties.Distributions").([]any) {
			where := fmt.Sprintf("%s distribution %d", id, i)
			// The AMI carries the distribution's tags and the one Image
			// Builder adds when it creates it (its ec2:CreateTags on
			// CreateImage with aws:RequestTag/CreatedBy).
			amiTags := map[string]string{"CreatedBy": "EC2 Image Builder"}
			for k, v := range at(t, dist, "AmiDistributionConfiguration.AmiTags").(map[string]any) {
				amiTags[k] = d.value(t, v)
			}
			for _, p := range dist.(map[string]any)["SsmParameterConfigurations"].([]any) {
				name := d.value(t, at(t, p, "ParameterName"))
				calls = append(calls, call(where+" SSM parameter", "ssm:PutParameter", "arn:aws:ssm:"+iamRegion+":"+iamAccount+":parameter"+name, nil))
			}
			for _, fl := range dist.(map[string]any)["FastLaunchConfigurations"].([]any) {
				calls = append(calls, call(where+" Fast Launch image", "ec2:EnableFastLaunch", "arn:aws:ec2:"+iamRegion+"::image/ami-0123456789abcdef0", tagContext(amiTags)))
				ltRef := at(t, fl, "LaunchTemplate.LaunchTemplateId").(map[string]any)["Ref"].(string)
				ltTags := map[string]string{}
				for _, spec := range optional(d.resources[ltRef], "Properties.TagSpecifications") {
					if spec.(map[string]any)["ResourceType"] != "launch-template" {
						continue
					}
					for _, tag := range spec.(map[string]any)["Tags"].([]any) {
						ltTags[tag.(map[string]any)["Key"].(string)] = d.value(t, tag.(map[string]any)["Value"])
					}
				}
				calls = append(calls, call(where+" Fast Launch template", "ec2:EnableFastLaunch", "arn:aws:ec2:"+iamRegion+":"+iamAccount+":launch-template/"+d.ref(t, ltRef), tagContext(ltTags)))
			}
		}
	}
	return calls
}

// optional is the list at path, or nil where any step of it is missing.
func optional(tree any, path string) []any {
	l, _ := optionalValue(tree, path).([]any)
	return l
}

type iamCall struct {
	what string
	req  iamsim.Request
}

// Every call AWS's services make on the template's resources is allowed
// by the policies AWS publishes for them, evaluated by a real IAM
// evaluator at the exact ARNs and tags the template creates: a pipeline
// that would fail at its last step on a real account fails here.
func TestAWSAllowsWhatTheTemplateMakesItDo(t *testing.T) {
	for _, name := range []string{"one build", "three builds", "private ECR"} {
		tree := templateTreeWith(t, cfnShapes(t)[name], Options{ClusterName: "prod-east"})
		d := deploy(t, tree)
		calls := imageBuilderCalls(t, d)
		if builds := len(d.ofType("AWS::ImageBuilder::DistributionConfiguration")); len(calls) != 3*builds {
			t.Fatalf("%s: %d calls for %d builds; want the parameter and both Fast Launch checks of each", name, len(calls), builds)
		}
		checkAllowed(t, name, calls)
	}
}

// resolved is v with every Ref and Fn::Sub in it resolved.
func (d *deployed) resolved(t *testing.T, v any) any {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["Ref"]; ok {
			return d.value(t, v)
		}
		if _, ok := v["Fn::Sub"]; ok {
			return d.value(t, v)
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = d.resolved(t, e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = d.resolved(t, e)
		}
		return out
	}
	return v
}

// buildInstanceCalls are the requests a build instance makes as the
// template's instance role: an ECR token and the pulls of each private
// ECR image's repository, and the read of the image list when there is one.
func buildInstanceCalls(t *testing.T, d *deployed, p *bake.Plan, list *bake.ImageListSource) []iamCall {
	role := d.resources[roleID].(map[string]any)["Properties"].(map[string]any)
	var managed []string
	for _, arn := range role["ManagedPolicyArns"].([]any) {
		s := d.value(t, arn)
		managed = append(managed, s[strings.LastIndex(s, "/")+1:])
	}
	var inline []any
	for _, pol := range optional(role, "Policies") {
		inline = append(inline, d.resolved(t, pol.(map[string]any)["PolicyDocument"]))
	}
	req := func(action, resource string) iamsim.Request {
		return iamsim.Request{Principal: "arn:aws:iam::" + iamAccount + ":role/" + roleID, ManagedPolicies: managed, InlinePolicies: inline,
			Action: action, Resource: resource, AccountID: iamAccount}
	}
	var calls []iamCall
	for _, c := range ecrImages(t, p) {
		calls = append(calls, iamCall{c.ref + " token", req("ecr:GetAuthorizationToken", "*")})
		for _, action := range []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} {
			calls = append(calls, iamCall{c.ref, req(action, c.repositoryARN)})
		}
	}
	switch {
	case list != nil && list.Bucket != "":
		calls = append(calls, iamCall{"image list", req("s3:GetObject", "arn:aws:s3:::"+list.Bucket+"/"+list.Key)})
	case list != nil:
		calls = append(calls, iamCall{"image list", req("ssm:GetParameter", "arn:aws:ssm:"+iamRegion+":"+iamAccount+":parameter"+list.Parameter)})
	}
	return calls
}

type ecrImage struct{ ref, repositoryARN string }

// ecrImages are the plan's chosen images in private ECR, with the ARN of
// their repository as ECR names it.
func ecrImages(t *testing.T, p *bake.Plan) []ecrImage {
	var out []ecrImage
	ecrRef := regexp.MustCompile(`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)`)
	for i := range p.Builds {
		for _, c := range p.Builds[i].Chosen() {
			if m := ecrRef.FindStringSubmatch(c.Ref); m != nil {
				out = append(out, ecrImage{c.Ref, "arn:aws:ecr:" + m[2] + ":" + m[1] + ":repository/" + m[3]})
			}
		}
	}
	return out
}

// The build instance may pull every private ECR image and read the image
// list, under the role the template gives it; so may a role with only the
// policy `bake -o policy` prints, for the images it names.
func TestAWSAllowsWhatTheBuildInstanceDoes(t *testing.T) {
	p := cfnShapes(t)["private ECR"]
	if len(ecrImages(t, p)) == 0 {
		t.Fatal("the private ECR shape has no ECR image")
	}
	for _, uri := range []string{"", "s3://warm-lists/prod.txt", "ssm:/winimage/prod/images"} {
		var list *bake.ImageListSource
		if uri != "" {
			var err error
			if list, err = bake.ParseImageListURI(uri); err != nil {
				t.Fatal(err)
			}
		}
		d := deploy(t, templateTreeWith(t, p, Options{ClusterName: "prod-east", ImageList: list}))
		checkAllowed(t, "template role, list "+uri, buildInstanceCalls(t, d, p, list))
	}
	for i := range p.Builds {
		pol := bake.PolicyFor(&p.Builds[i])
		var calls []iamCall
		for _, c := range ecrImages(t, &bake.Plan{Builds: p.Builds[i : i+1]}) {
			for _, action := range []string{"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} {
				resource := c.repositoryARN
				if action == "ecr:GetAuthorizationToken" {
					resource = "*"
				}
				calls = append(calls, iamCall{"-o policy " + c.ref, iamsim.Request{Principal: "arn:aws:iam::" + iamAccount + ":role/builder",
					InlinePolicies: []any{pol}, Action: action, Resource: resource, AccountID: iamAccount}})
			}
		}
		checkAllowed(t, fmt.Sprintf("build %d", p.Builds[i].Build), calls)
	}
}

func checkAllowed(t *testing.T, where string, calls []iamCall) {
	t.Helper()
	reqs := make([]iamsim.Request, len(calls))
	for i, c := range calls {
		reqs[i] = c.req
	}
	for i, r := range iamsim.ForTest(t, reqs) {
		if r.Result != "Allowed" {
			t.Errorf("%s: %s: %s %s: %s %s", where, calls[i].what, calls[i].req.Action, calls[i].req.Resource, r.Result, r.Error)
		}
	}
}

// Principals of the roles AWS's services act as.
const (
	imageBuilderRole = "arn:aws:iam::" + iamAccount + ":role/aws-service-role/imagebuilder.amazonaws.com/AWSServiceRoleForImageBuilder"
	eksNodegroupRole = "arn:aws:iam::" + iamAccount + ":role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup"
	autoScalingRole  = "arn:aws:iam::" + iamAccount + ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
)

// serviceCall is a request by a service-linked role under its AWS managed
// policy.
func serviceCall(what, principal, policy, action, resource string, ctx map[string]any) iamCall {
	return iamCall{what, iamsim.Request{Principal: principal, ManagedPolicies: []string{policy},
		Action: action, Resource: resource, AccountID: iamAccount, Context: ctx}}
}

// ssmParameterARN is the ARN of the parameter a resolve:ssm: image id
// names, "" when image is not one.
func ssmParameterARN(image string) string {
	name, ok := strings.CutPrefix(image, "resolve:ssm:")
	if !ok {
		return ""
	}
	return "arn:aws:ssm:" + iamRegion + ":" + iamAccount + ":parameter" + name
}

// A managed node group moves to a new AMI only on a new launch template
// version, and EKS's node-group role cannot resolve an SSM image id: each
// distribution gives a launch template a new default version with the new
// AMI (Image Builder's role may), and the node group launches from it
// (EKS's role may; it could not read an SSM parameter in its place). The
// self-managed launch template data keeps resolve:ssm:, which Auto
// Scaling's role resolves.
func TestAManagedNodeGroupCanLaunchEveryNewAMI(t *testing.T) {
	tree := templateTree(t, cfnShapes(t)["three builds"])
	d := deploy(t, tree)
	var calls []iamCall
	for _, id := range d.ofType("AWS::ImageBuilder::DistributionConfiguration") {
		configs := optional(d.resources[id], "Properties.Distributions")[0].(map[string]any)["LaunchTemplateConfigurations"]
		if configs == nil {
			t.Errorf("%s: no launch template gets the new AMI, so a managed node group never moves to it", id)
			continue
		}
		for _, c := range configs.([]any) {
			if c.(map[string]any)["SetDefaultVersion"] != true {
				t.Errorf("%s: the new version is not the default: %v", id, c)
			}
			ltRef := at(t, c, "LaunchTemplateId").(map[string]any)["Ref"].(string)
			lt := "arn:aws:ec2:" + iamRegion + ":" + iamAccount + ":launch-template/" + d.ref(t, ltRef)
			for _, action := range []string{"ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate"} {
				calls = append(calls, serviceCall(id+" new version", imageBuilderRole, "AWSServiceRoleForImageBuilder", action, lt, nil))
			}
			calls = append(calls, serviceCall(ltRef+" node group reads it", eksNodegroupRole, "AWSServiceRoleForAmazonEKSNodegroup", "ec2:DescribeLaunchTemplateVersions", "*", nil),
				serviceCall(ltRef+" node group launch", eksNodegroupRole, "AWSServiceRoleForAmazonEKSNodegroup", "ec2:RunInstances", lt, nil))
			if image := optionalValue(d.resources[ltRef], "Properties.LaunchTemplateData.ImageId"); image != nil && ssmParameterARN(d.value(t, image)) != "" {
				arn := ssmParameterARN(d.value(t, image))
				calls = append(calls, serviceCall(ltRef+" image id", eksNodegroupRole, "AWSServiceRoleForAmazonEKSNodegroup", "ssm:GetParameters", arn, nil))
			}
		}
	}
	for name, out := range tree["Outputs"].(map[string]any) {
		if !strings.HasPrefix(name, "SelfManagedLaunchTemplateData") {
			continue
		}
		data := d.value(t, out.(map[string]any)["Value"])
		image := regexp.MustCompile(`ImageId: (\S+)`).FindStringSubmatch(data)
		if image == nil || ssmParameterARN(image[1]) == "" {
			t.Fatalf("%s: no resolve:ssm: image id:\n%s", name, data)
		}
		calls = append(calls, serviceCall(name+" image id", autoScalingRole, "AutoScalingServiceRolePolicy", "ssm:GetParameters", ssmParameterARN(image[1]), nil))
	}
	if len(calls) < 3*5 {
		t.Fatalf("%d calls for three builds", len(calls))
	}
	checkAllowed(t, "managed node group", calls)
}

// optionalValue is the value at path, nil where any step is missing.
func optionalValue(tree any, path string) any {
	v := tree
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// Old AMIs are retired by a lifecycle policy that selects every recipe of
// the template, keeps the newest few and any AMI that launched an
// instance lately; its role may deregister the AMIs and delete the
// snapshots Image Builder made (AWS managed policy
// EC2ImageBuilderLifecycleExecutionPolicy, evaluated at an AMI carrying
// the distribution's tags and Image Builder's own).
func TestOldAMIsAreRetiredByARoleThatMay(t *testing.T) {
	tree := templateTree(t, cfnShapes(t)["three builds"])
	d := deploy(t, tree)
	policies := d.ofType("AWS::ImageBuilder::LifecyclePolicy")
	if len(policies) != 1 {
		t.Fatalf("lifecycle policies %v, want one", policies)
	}
	props := d.resources[policies[0]].(map[string]any)["Properties"].(map[string]any)
	var selected []string
	for _, r := range optional(props, "ResourceSelection.Recipes") {
		selected = append(selected, d.value(t, at(t, r, "Name"))+"@"+at(t, r, "SemanticVersion").(string))
	}
	var recipes []string
	for _, id := range d.ofType("AWS::ImageBuilder::ImageRecipe") {
		recipes = append(recipes, d.value(t, at(t, d.resources[id], "Properties.Name"))+"@1.0.x")
	}
	if strings.Join(selected, " ") != strings.Join(recipes, " ") {
		t.Errorf("selects %v, want every recipe at every version %v", selected, recipes)
	}
	detail := at(t, props, "PolicyDetails[0]")
	if at(t, detail, "Action.Type") != "DELETE" || at(t, detail, "Filter.Type") != "COUNT" ||
		!reflect.DeepEqual(at(t, detail, "Filter.Value"), map[string]any{"Ref": "KeepAmis"}) ||
		at(t, detail, "ExclusionRules.Amis.LastLaunched.Unit") != "DAYS" {
		t.Errorf("policy detail %v", detail)
	}
	roleID := at(t, props, "ExecutionRole").(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	role := d.resources[roleID].(map[string]any)["Properties"].(map[string]any)
	var managed []string
	for _, arn := range role["ManagedPolicyArns"].([]any) {
		s := d.value(t, arn)
		managed = append(managed, s[strings.LastIndex(s, "/")+1:])
	}
	if principal := at(t, role, "AssumeRolePolicyDocument.Statement[0].Principal.Service"); principal != "imagebuilder.amazonaws.com" {
		t.Errorf("the lifecycle role is assumed by %v", principal)
	}
	tags := map[string]any{"aws:ResourceTag/CreatedBy": "EC2 Image Builder", "ec2:ResourceTag/CreatedBy": "EC2 Image Builder"}
	call := func(action, resource string, ctx map[string]any) iamCall {
		return iamCall{"lifecycle", iamsim.Request{Principal: "arn:aws:iam::" + iamAccount + ":role/" + roleID, ManagedPolicies: managed,
			Action: action, Resource: resource, AccountID: iamAccount, Context: ctx}}
	}
	checkAllowed(t, "lifecycle policy", []iamCall{
		call("ec2:DeregisterImage", "arn:aws:ec2:"+iamRegion+"::image/ami-0123456789abcdef0", tags),
		call("ec2:DeleteSnapshot", "arn:aws:ec2:"+iamRegion+"::snapshot/snap-0123456789abcdef0", tags),
		call("ec2:DescribeImages", "*", nil),
		call("imagebuilder:DeleteImage", "arn:aws:imagebuilder:"+iamRegion+":"+iamAccount+":image/winimage-prod-east-ws2022/1.0.1/1", nil),
	})
}
