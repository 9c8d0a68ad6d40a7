package cloudformation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
)

// Digests of the images in the plans under test.
const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// cfnBuild is a build plan as Make leaves it, for the images given.
func cfnBuild(t testing.TB, build int, release string, refs ...string) bake.BuildPlan {
	bp := &bake.BuildPlan{Build: build, WindowsServer: release, Images: chosen(refs...)}
	bp.Disk.RootVolume = bake.RootVolume{DeviceName: "/dev/sda1", SizeGiB: 150, VolumeType: "gp3"}
	c, err := bake.ComponentFor(bp, bake.DefaultCtr, "test")
	if err != nil {
		t.Fatal(err)
	}
	bp.Component, bp.IAMPolicy = c, bake.PolicyFor(bp)
	bp.Launch = bake.LaunchFor(bp, nil, "1.33")
	return *bp
}

// chosen are refs as the plan's chosen candidates, in rank order.
func chosen(refs ...string) []bake.Candidate {
	var out []bake.Candidate
	for i, r := range refs {
		out = append(out, bake.Candidate{Ref: r, Digest: []string{digestA, digestB}[i%2], Chosen: true, Rank: i + 1})
	}
	return out
}

func cfnPlan(builds ...bake.BuildPlan) *bake.Plan {
	return &bake.Plan{KubernetesMinor: "1.33", Builds: builds}
}

// cfnShapes are the plan shapes every check runs on.
func cfnShapes(t testing.TB) map[string]*bake.Plan {
	return map[string]*bake.Plan{
		"one build": cfnPlan(cfnBuild(t, 20348, "2022", "r.example/shop/web:2.3.1")),
		"three builds": cfnPlan(cfnBuild(t, 17763, "2019", "r.example/shop/web:2.3.1"),
			cfnBuild(t, 20348, "2022", "r.example/shop/web:2.3.1", "r.example/shop/cart:1.8.0"),
			cfnBuild(t, 26100, "2025", "r.example/tools/log:1.4")),
		"private ECR": cfnPlan(cfnBuild(t, 20348, "2022", "123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:2.3.1",
			"123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/cart@"+digestB)),
		"public registries only": cfnPlan(cfnBuild(t, 20348, "2022", "mcr.microsoft.com/dotnet/framework/aspnet:4.8", "nginx:1.27")),
		// More than Image Builder takes in one inline component.
		"two builds of twenty-four images": cfnPlan(cfnBuild(t, 17763, "2019", manyRefs("2019", 24)...), cfnBuild(t, 20348, "2022", manyRefs("2022", 24)...)),
	}
}

// manyRefs are n images of a team's private ECR registry.
func manyRefs(tag string, n int) []string {
	var refs []string
	for i := range n {
		refs = append(refs, fmt.Sprintf("123456789012.dkr.ecr.us-east-2.amazonaws.com/team-%02d/service-with-a-long-name:%s", i, tag))
	}
	return refs
}

func templateTree(t testing.TB, p *bake.Plan) map[string]any {
	return templateTreeWith(t, p, Options{ClusterName: "prod-east"})
}

// templateYAML is p's template as -o cloudformation writes it.
func templateYAML(t testing.TB, p *bake.Plan) string {
	t.Helper()
	tmpl, err := New(p, Options{ClusterName: "prod-east"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := tmpl.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func templateTreeWith(t testing.TB, p *bake.Plan, o Options) map[string]any {
	t.Helper()
	tmpl, err := New(p, o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tmpl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal(data, &tree); err != nil {
		t.Fatalf("template is not JSON: %v\n%s", err, data)
	}
	return tree
}

// at reads tree at a dotted path; [n] indexes lists.
func at(t testing.TB, tree any, path string) any {
	t.Helper()
	v := tree
	for _, key := range strings.Split(path, ".") {
		name, index, list := strings.Cut(key, "[")
		if name != "" {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: %s is not an object", path, name)
			}
			v = m[name]
		}
		if list {
			var i int
			fmt.Sscanf(index, "%d]", &i)
			l, ok := v.([]any)
			if !ok || i >= len(l) {
				t.Fatalf("%s: no element %d", path, i)
			}
			v = l[i]
		}
	}
	return v
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

// The template carries the plan: the same component document as -o
// component, the build's EKS AMI parameter, the planned volume, Fast Launch
// counts and the rebuild schedule.
func TestTemplateCarriesThePlan(t *testing.T) {
	p := cfnShapes(t)["three builds"]
	tree := templateTree(t, p)
	for _, bp := range p.Builds {
		rel := bp.WindowsServer
		want, _ := bp.Component.YAML()
		for path, v := range map[string]any{
			"Resources.Component" + rel + ".Properties.Data":                                                                                      string(want),
			"Resources.Component" + rel + ".Properties.Platform":                                                                                  "Windows",
			"Resources.Recipe" + rel + ".Properties.ParentImage":                                                                                  "ssm:/aws/service/ami-windows-latest/Windows_Server-" + rel + "-English-Core-EKS_Optimized-1.33/image_id",
			"Resources.Recipe" + rel + ".Properties.Components[0].ComponentArn":                                                                   ref("Component" + rel),
			"Resources.Recipe" + rel + ".Properties.BlockDeviceMappings[0].Ebs.VolumeSize":                                                        float64(150),
			"Resources.Recipe" + rel + ".Properties.BlockDeviceMappings[0].Ebs.VolumeType":                                                        "gp3",
			"Resources.Distribution" + rel + ".Properties.Distributions[0].FastLaunchConfigurations[0].SnapshotConfiguration.TargetResourceCount": float64(bp.Launch.FastLaunch.SnapshotCount),
			"Resources.Distribution" + rel + ".Properties.Distributions[0].FastLaunchConfigurations[0].MaxParallelLaunches":                       float64(bp.Launch.FastLaunch.MaxParallelLaunches),
			"Resources.Distribution" + rel + ".Properties.Distributions[0].SsmParameterConfigurations[0].DataType":                                "aws:ec2:image",
			"Resources.Pipeline" + rel + ".Properties.ImageRecipeArn":                                                                             ref("Recipe" + rel),
			"Resources.Pipeline" + rel + ".Properties.Schedule.PipelineExecutionStartCondition":                                                   ref(paramCondition),
			"Resources.Pipeline" + rel + ".Properties.Schedule.ScheduleExpression":                                                                ref(paramSchedule),
			"Resources.Pipeline" + rel + ".Properties.ImageTestsConfiguration.ImageTestsEnabled":                                                  true,
		} {
			if got := at(t, tree, path); !reflect.DeepEqual(got, v) {
				t.Errorf("%s = %#v, want %#v", path, got, v)
			}
		}
		tags := at(t, tree, "Resources.Distribution"+rel+".Properties.Distributions[0].AmiDistributionConfiguration.AmiTags").(map[string]any)
		if tags[TagBuild] != fmt.Sprint(bp.Build) || !reflect.DeepEqual(tags[TagCluster], ref(paramCluster)) || tags[TagKubernetes] != "1.33" {
			t.Errorf("AMI tags %v", tags)
		}
	}
	if got := at(t, tree, "Parameters.ClusterName.Default"); got != "prod-east" {
		t.Errorf("cluster default %v", got)
	}
	// No ECR repository: the role has the managed policies only.
	if _, ok := at(t, tree, "Resources.InstanceRole.Properties").(map[string]any)["Policies"]; ok {
		t.Error("an ECR policy on a role that pulls no private ECR image")
	}
}

func TestTemplateGrantsExactlyThePrivateECRRepositories(t *testing.T) {
	tree := templateTree(t, cfnShapes(t)["private ECR"])
	got := at(t, tree, "Resources.InstanceRole.Properties.Policies[0].PolicyDocument.Statement[1].Resource")
	want := []any{"arn:aws:ecr:us-east-2:123456789012:repository/shop/cart", "arn:aws:ecr:us-east-2:123456789012:repository/shop/web"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ECR resources %v, want %v", got, want)
	}
}

func TestTemplateRefusesAnEmptyPlanAndABadClusterName(t *testing.T) {
	empty := &bake.Plan{KubernetesMinor: "1.33", Builds: []bake.BuildPlan{{Build: 20348, WindowsServer: "2022"}}}
	if _, err := New(empty, Options{ClusterName: "prod"}); err == nil || !strings.Contains(err.Error(), "no image was chosen") {
		t.Errorf("empty plan: %v", err)
	}
	p := cfnShapes(t)["one build"]
	for _, name := range []string{"", "-x", "a b", "eyJSZWYiOiJBQiJ9=", "prod.east", strings.Repeat("a", 101)} {
		if _, err := New(p, Options{ClusterName: name}); err == nil {
			t.Errorf("cluster name %q accepted", name)
		}
	}
}

// intrinsicPaths lists where a template calls intrinsic functions.
func intrinsicPaths(v any, path string, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				*out = append(*out, path)
			}
			intrinsicPaths(e, path+"."+k, out)
		}
	case []any:
		for i, e := range x {
			intrinsicPaths(e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func intrinsicsOf(tree any) []string {
	var paths []string
	intrinsicPaths(tree, "", &paths)
	sort.Strings(paths)
	return paths
}

var (
	benignOnce sync.Once
	benign     []string
)

// checkTemplateFor is the fuzz check: the template of a plan with ref
// calls functions exactly where the benign template does, and carries the
// component document unchanged.
func checkTemplateFor(t *testing.T, bp *bake.BuildPlan) {
	bp.Disk.RootVolume = bake.RootVolume{DeviceName: "/dev/sda1", SizeGiB: 150, VolumeType: "gp3"}
	bp.IAMPolicy = bake.PolicyFor(bp)
	bp.Launch = bake.LaunchFor(bp, nil, "1.33")
	tree := templateTree(t, cfnPlan(*bp))
	benignOnce.Do(func() {
		benign = intrinsicsOf(templateTree(t, cfnPlan(cfnBuild(t, 20348, "2022", "nginx:1.27", "mcr.microsoft.com/windows/servercore:ltsc2022"))))
	})
	if got, want := intrinsicsOf(tree), benign; !reflect.DeepEqual(got, want) {
		t.Fatalf("functions at %v, want %v", got, want)
	}
	want, _ := bp.Component.YAML()
	if got := at(t, tree, "Resources.Component2022.Properties.Data"); got != string(want) {
		t.Fatalf("component data changed on its way into the template:\n%v\nwant\n%s", got, want)
	}
}

// A cluster named like base64 of {"Ref":"AB"} (a valid EKS name) stays a
// name: goformation's writer would decode it into a Ref.
func TestNamesThatDecodeAsFunctionsStayText(t *testing.T) {
	tree := templateTreeWith(t, cfnShapes(t)["one build"], Options{ClusterName: "eyJSZWYiOiJBQiJ9"})
	if got := at(t, tree, "Parameters.ClusterName.Default"); got != "eyJSZWYiOiJBQiJ9" {
		t.Fatalf("cluster name became %#v", got)
	}
}

func TestImageListURIsAreParsedStrictly(t *testing.T) {
	for uri, want := range map[string]bake.ImageListSource{
		"s3://warm-lists/prod/east.txt": {Bucket: "warm-lists", Key: "prod/east.txt"},
		"ssm:/winimage/prod/images":     {Parameter: "/winimage/prod/images"},
		"ssm:winimage-images":           {Parameter: "/winimage-images"},
		"s3://a.b-c/it's(1).txt":        {Bucket: "a.b-c", Key: "it's(1).txt"},
	} {
		got, err := bake.ParseImageListURI(uri)
		want.URI = uri
		if err != nil || *got != want {
			t.Errorf("%s: %+v, %v; want %+v", uri, got, err, want)
		}
	}
	for _, bad := range []string{"", "https://x/y", "s3://Warm/x", "s3://warm", "s3://warm/", "s3://warm/$(calc)", "s3://warm/a b", "s3://warm/*", "s3://warm/lists/*.txt",
		"ssm:", "ssm:/a b", "ssm:/a/'b'", "ssm:/a\n- evil"} {
		if _, err := bake.ParseImageListURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestImageListHasALinePerChosenImageOfEveryBuild(t *testing.T) {
	got, err := cfnShapes(t)["three builds"].ImageList()
	if err != nil {
		t.Fatal(err)
	}
	want := "# kubectl winimage image list: build pinned-reference [tag]\n" +
		"17763 r.example/shop/web@" + digestA + " r.example/shop/web:2.3.1\n" +
		"20348 r.example/shop/web@" + digestA + " r.example/shop/web:2.3.1\n" +
		"20348 r.example/shop/cart@" + digestB + " r.example/shop/cart:1.8.0\n" +
		"26100 r.example/tools/log@" + digestA + " r.example/tools/log:1.4\n"
	if string(got) != want {
		t.Fatalf("image list:\n%s\nwant:\n%s", got, want)
	}
	if _, err := (&bake.Plan{Builds: []bake.BuildPlan{{Build: 20348}}}).ImageList(); err == nil {
		t.Error("an empty plan printed a list")
	}
}

// With --image-list-uri the template's components read the list, the role
// may read exactly that object or parameter, and ECR reads cover the
// registries' repositories (the list can name new ones).
func TestTemplateWithAnImageListReadsItAtBuildTime(t *testing.T) {
	p := cfnShapes(t)["private ECR"]
	for uri, grant := range map[string]string{
		"s3://warm-lists/prod.txt":  "arn:${AWS::Partition}:s3:::warm-lists/prod.txt",
		"ssm:/winimage/prod/images": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/winimage/prod/images",
	} {
		src, err := bake.ParseImageListURI(uri)
		if err != nil {
			t.Fatal(err)
		}
		tree := templateTreeWith(t, p, Options{ClusterName: "prod-east", ImageList: src})
		c, err := bake.ComponentFromList(&p.Builds[0], bake.DefaultCtr, "", src)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.YAML()
		if got := at(t, tree, "Resources.Component2022.Properties.Data"); got != string(want) {
			t.Errorf("%s: component is not the list-reading one:\n%v", uri, got)
		}
		statements := at(t, tree, "Resources.InstanceRole.Properties.Policies[0].PolicyDocument.Statement").([]any)
		if got := at(t, statements[len(statements)-1], "Resource[0]"); !reflect.DeepEqual(got, map[string]any{"Fn::Sub": grant}) {
			t.Errorf("%s: list grant %v, want %s", uri, got, grant)
		}
		if got := at(t, statements[1], "Resource"); !reflect.DeepEqual(got, []any{"arn:aws:ecr:us-east-2:123456789012:repository/*"}) {
			t.Errorf("%s: ECR grant %v", uri, got)
		}
	}
}

// A list line may tag its pinned image only with its own repository's
// name: the component refuses any other tag before ctr sees it, and every
// line bake prints passes that rule. (The rule is PowerShell run on the
// build instance; here it is read from the script and applied as written.)
func TestAListLineCannotTagAnImageAsAnotherRepository(t *testing.T) {
	p := cfnShapes(t)["three builds"]
	src, _ := bake.ParseImageListURI("s3://warm-lists/prod.txt")
	c, err := bake.ComponentFromList(&p.Builds[0], bake.DefaultCtr, "", src)
	if err != nil {
		t.Fatal(err)
	}
	const check = "  if ($tag -and -not $tag.StartsWith($pinned.Substring(0, $pinned.IndexOf('@')) + ':', [System.StringComparison]::Ordinal)) { throw ('image list: a tag of another repository: ' + $line) }"
	if !slices.Contains(c.Phases[0].Steps[1].Inputs.Commands, check) {
		t.Fatal("the pull step does not hold a tag to the pinned image's repository")
	}
	refused := func(pinned, tag string) bool {
		return tag != "" && !strings.HasPrefix(tag, pinned[:strings.Index(pinned, "@")]+":")
	}
	list, err := p.ImageList()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n")[1:] {
		f := strings.Fields(line)
		if refused(f[1], f[2]) {
			t.Errorf("bake's own line refused: %s", line)
		}
	}
	for _, tag := range []string{"mcr.microsoft.com/windows/servercore:ltsc2022", "r.example/shop/web-evil:1", "r.example/shop:web"} {
		if !refused("r.example/shop/web@"+digestA, tag) {
			t.Errorf("tag %s of r.example/shop/web@… let through", tag)
		}
	}
}

// Fast Launch's pre-provisioning launches go through the template's launch
// template: it carries Image Builder's tag (without which Image Builder
// may not enable Fast Launch with it, TestAWSAllowsWhatTheTemplateMakesItDo)
// and takes IMDSv2 only, as accounts that enforce IMDSv2 require.
func TestTheFastLaunchTemplateIsTaggedAndIMDSv2Only(t *testing.T) {
	tree := templateTree(t, cfnShapes(t)["one build"])
	lt := at(t, tree, "Resources.FastLaunchTemplate2022.Properties")
	if got := at(t, lt, "LaunchTemplateData.MetadataOptions.HttpTokens"); got != "required" {
		t.Errorf("HttpTokens %v", got)
	}
	if got := at(t, lt, "TagSpecifications[0].Tags[0]"); !reflect.DeepEqual(got, map[string]any{"Key": "CreatedBy", "Value": "EC2 Image Builder"}) {
		t.Errorf("launch template tags %v", got)
	}
	if got := at(t, tree, "Parameters.AmiParameterPrefix.Default"); got != "/imagebuilder/winimage/prod-east" {
		t.Errorf("AMI parameter prefix %v", got)
	}
}

// A stack update replaces a Component or ImageRecipe when any of its
// properties changes, and the replacement fails if its name and version
// stay ("already exists"): every change to one must change its version.
// Two plans that differ only in the root volume, then only in the
// Kubernetes minor, change different properties of each.
func TestEveryReplacingChangeMakesANewVersion(t *testing.T) {
	base := cfnShapes(t)["one build"]
	bigger := cfnShapes(t)["one build"]
	bigger.Builds[0].Disk.RootVolume.SizeGiB += 50
	newer := cfnShapes(t)["one build"]
	newer.KubernetesMinor = "1.34"
	for name, other := range map[string]*bake.Plan{"volume": bigger, "minor": newer} {
		a, b := templateTree(t, base), templateTree(t, other)
		for _, id := range []string{"Component2022", "Recipe2022"} {
			pa := at(t, a, "Resources."+id+".Properties").(map[string]any)
			pb := at(t, b, "Resources."+id+".Properties").(map[string]any)
			va, vb := pa["Version"], pb["Version"]
			delete(pa, "Version")
			delete(pb, "Version")
			if !reflect.DeepEqual(pa, pb) && va == vb {
				t.Errorf("%s change: %s changed but kept version %v", name, id, va)
			}
		}
	}
}

// A template CloudFormation will not take inline says how to deploy it:
// two builds of twenty images pass the limit.
func TestALargeTemplateSaysToDeployThroughS3(t *testing.T) {
	p := cfnPlan(cfnBuild(t, 17763, "2019", manyRefs("2019", 20)...), cfnBuild(t, 20348, "2022", manyRefs("2022", 20)...))
	data := templateYAML(t, p)
	if note := DeployNote(len(data)); len(data) <= MaxInlineTemplateBytes || !strings.Contains(note, "--s3-bucket") {
		t.Errorf("%d bytes: note %q", len(data), note)
	}
	if note := DeployNote(MaxInlineTemplateBytes); note != "" {
		t.Errorf("a template at the limit: %q", note)
	}
}

// The same plan gives the same template: a component's or recipe's
// version changes only with what it holds, so deploying the same plan
// again replaces nothing and starts no build.
func TestTheSamePlanGivesTheSameTemplate(t *testing.T) {
	for name, p := range cfnShapes(t) {
		if a, b := templateYAML(t, p), templateYAML(t, p); a != b {
			t.Errorf("%s: two renders of the same plan differ", name)
		}
	}
}

// EKS adds no user data to a custom AMI: the managed node group's launch
// template bootstraps the node with the labels EKS gives its own AMI's
// nodes, the image read from the instance's metadata, since each version
// Image Builder makes changes the image and keeps this user data.
func TestTheNodeGroupUserDataSetsTheNodeGroupLabels(t *testing.T) {
	tree := templateTree(t, cfnShapes(t)["one build"])
	userData := at(t, tree, "Resources.NodeGroupLaunchTemplate2022.Properties.LaunchTemplateData.UserData").(map[string]any)
	sub, ok := userData["Fn::Base64"].(map[string]any)["Fn::Sub"].(string)
	if !ok {
		t.Fatalf("user data %v", userData)
	}
	for _, want := range []string{"-EKSClusterName '${ClusterName}'", "eks.amazonaws.com/nodegroup=${NodeGroupName2022}",
		"eks.amazonaws.com/nodegroup-image=$ami", TagBuild + "=20348", "meta-data/ami-id", "X-aws-ec2-metadata-token"} {
		if !strings.Contains(sub, want) {
			t.Errorf("user data lacks %q:\n%s", want, sub)
		}
	}
	if _, ok := at(t, tree, "Resources.NodeGroupLaunchTemplate2022.Properties.LaunchTemplateData").(map[string]any)["ImageId"]; ok {
		t.Error("the node group template names an image before Image Builder made one")
	}
	if got := at(t, tree, "Parameters.NodeGroupName2022.Default"); got != "winimage-ws2022" {
		t.Errorf("node group name default %v", got)
	}
	update := at(t, tree, "Outputs.NodeGroupUpdate2022.Value").(map[string]any)["Fn::Sub"].(string)
	if !strings.Contains(update, "aws eks update-nodegroup-version") || !strings.Contains(update, "id=${NodeGroupLaunchTemplate2022}") {
		t.Errorf("update advice: %s", update)
	}
}

// Karpenter's nodes read the baked layers from a volume made from the
// AMI's snapshot too: the EC2NodeClass snippet fills it ahead of reads at
// the launch template's rate.
func TestTheKarpenterSnippetFillsTheVolumeAhead(t *testing.T) {
	tree := templateTree(t, cfnShapes(t)["one build"])
	sub := at(t, tree, "Outputs.Karpenter2022.Value").(map[string]any)["Fn::Sub"].(string)
	var spec map[string]any
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(sub, "${ClusterName}", "prod-east")), &spec); err != nil {
		t.Fatal(err)
	}
	ebs := at(t, spec, "blockDeviceMappings[0].ebs").(map[string]any)
	if ebs["volumeInitializationRate"] != bake.VolumeInitializationRate || ebs["volumeSize"] != "150Gi" {
		t.Errorf("EC2NodeClass ebs %v", ebs)
	}
}
