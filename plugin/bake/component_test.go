package bake

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winimage-io/kubectl-winimage/test/pwsh"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func planWith(refs ...string) *BuildPlan {
	bp := &BuildPlan{Build: 20348, WindowsServer: "2022"}
	for i, r := range refs {
		d := digestA
		if i%2 == 1 {
			d = digestB
		}
		bp.Images = append(bp.Images, Candidate{Ref: r, Digest: d, Chosen: true, Rank: i + 1})
	}
	return bp
}

// decoded is the component as a YAML reader sees it.
type decoded struct {
	Name          string `yaml:"name"`
	Description   string `yaml:"description"`
	SchemaVersion any    `yaml:"schemaVersion"`
	Phases        []struct {
		Name  string `yaml:"name"`
		Steps []struct {
			Name   string `yaml:"name"`
			Action string `yaml:"action"`
			Inputs struct {
				Commands []string `yaml:"commands"`
			} `yaml:"inputs"`
		} `yaml:"steps"`
	} `yaml:"phases"`
}

// decode is c as a YAML reader sees it.
func decode(t *testing.T, c *Component) decoded {
	t.Helper()
	data, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var d decoded
	if err := yaml.Unmarshal(data, &d); err != nil {
		t.Fatalf("component does not parse: %v\n%s", err, data)
	}
	return d
}

// checkComponent parses the YAML and checks it has exactly the intended
// steps, and that every word of every command is the intended value inside
// its quotes. want lists, per image, the pinned and tag names.
func checkComponent(t *testing.T, c *Component, ctr string, want [][2]string, ecrRegion []string) {
	t.Helper()
	d := decode(t, c)
	if d.SchemaVersion != 1.0 || d.Name != "winimage-prepull-20348" || len(d.Phases) != 3 || d.Phases[0].Name != "build" || d.Phases[1].Name != "validate" || d.Phases[2].Name != "test" {
		t.Fatalf("shape: %+v", d)
	}
	if len(d.Phases[0].Steps) != len(want) || len(d.Phases[1].Steps) != 1 {
		t.Fatalf("steps: %d build, %d validate; want %d and 1", len(d.Phases[0].Steps), len(d.Phases[1].Steps), len(want))
	}
	var validateNames []string
	for i, step := range d.Phases[0].Steps {
		pinned, tag := want[i][0], want[i][1]
		if step.Name != fmt.Sprintf("PullImage%d", i+1) || step.Action != "ExecutePowerShell" {
			t.Errorf("step %d: %s %s", i, step.Name, step.Action)
		}
		cmds := step.Inputs.Commands
		if cmds[0] != "$ErrorActionPreference = 'Stop'" {
			t.Errorf("step %d starts with %q", i, cmds[0])
		}
		// A tag is resolved when the AMI is built, so each scheduled
		// rebuild bakes what the tag names then; a digest stays pinned.
		pulled := pinned
		if tag != "" {
			pulled = tag
		}
		k := 1
		pullWords := []string{ctr, "-n", "k8s.io", "images", "pull", "--platform", "windows(10.0.20348)/amd64", "--label", PinLabel}
		if ecrRegion[i] != "" {
			if cmds[k] != "$password = (Get-ECRLoginCommand -Region "+psQuote(ecrRegion[i])+").Password" {
				t.Errorf("login line %q", cmds[k])
			}
			k++
			head, quotedRef, ok := strings.Cut(cmds[k], " --user ('AWS:' + $password) ")
			words, err := pwsh.CallWords(head)
			ref, rest, rok := pwsh.Unquote(quotedRef)
			if !ok || err != nil || !rok || rest != "" || ref != pulled || strings.Join(words, "\x00") != strings.Join(pullWords, "\x00") {
				t.Errorf("ECR pull line %q: %v %q", cmds[k], err, words)
			}
		} else {
			words, err := pwsh.CallWords(cmds[k])
			if err != nil || strings.Join(words, "\x00") != strings.Join(append(pullWords, pulled), "\x00") {
				t.Errorf("pull line %q: %v %q", cmds[k], err, words)
			}
		}
		k++
		checkThrow(t, cmds[k], "ctr images pull failed: ", pulled)
		k++
		validateNames = append(validateNames, pulled)
		if tag != "" {
			k = checkDigestRecord(t, cmds, k, ctr, pinned, tag)
		}
		if k != len(cmds) {
			t.Errorf("step %d has %d commands, want %d: %q", i, len(cmds), k, cmds)
		}
	}
	v := d.Phases[1].Steps[0].Inputs.Commands
	if len(v) != 5 {
		t.Fatalf("validate: %q", v)
	}
	list, err := pwsh.CallWords(strings.TrimPrefix(v[1], "$names = "))
	if err != nil || strings.Join(list, " ") != ctr+" -n k8s.io images list -q" || !strings.HasPrefix(v[1], "$names = ") {
		t.Errorf("list line %q: %v", v[1], err)
	}
	body, ok := strings.CutPrefix(v[3], "$missing = @(")
	body, ok2 := strings.CutSuffix(body, ") | Where-Object { $names -notcontains $_ }")
	if !ok || !ok2 {
		t.Fatalf("missing line %q", v[3])
	}
	var got []string
	for body != "" {
		w, rest, ok := pwsh.Unquote(body)
		if !ok {
			t.Fatalf("unquoted text in %q", v[3])
		}
		got = append(got, w)
		body = strings.TrimPrefix(rest, ", ")
		if body == rest && rest != "" {
			t.Fatalf("text outside quotes in %q", v[3])
		}
	}
	if strings.Join(got, "\x00") != strings.Join(validateNames, "\x00") {
		t.Errorf("validate checks %q, want %q", got, validateNames)
	}
	// The test phase on the new AMI checks the same names.
	if want := "$want = @(" + strings.TrimPrefix(strings.TrimSuffix(v[3], ") | Where-Object { $names -notcontains $_ }"), "$missing = @(") + ")"; d.Phases[2].Steps[1].Inputs.Commands[1] != want {
		t.Errorf("the test phase checks %q, want %q", d.Phases[2].Steps[1].Inputs.Commands[1], want)
	}
}

// checkDigestRecord checks the lines from k that give a tag pulled by ctr
// its repo@digest record, pinned, and returns the index after them.
func checkDigestRecord(t *testing.T, cmds []string, k int, ctr, pinned, tag string) int {
	t.Helper()
	if len(cmds) < k+8 {
		t.Fatalf("no digest record for %s: %q", tag, cmds[k:])
	}
	list, err := pwsh.CallWords(strings.TrimSuffix(strings.TrimPrefix(cmds[k], "$row = @("), ")"))
	if err != nil || strings.Join(list, "\x00") != strings.Join([]string{ctr, "-n", "k8s.io", "images", "list", "name==" + tag}, "\x00") {
		t.Errorf("list line %q: %v", cmds[k], err)
	}
	if cmds[k+2] != `$digest = ($row[1] -split '\s+')[2]` || !strings.Contains(cmds[k+3], `-cnotmatch '^sha256:[0-9a-f]{64}$'`) {
		t.Errorf("digest lines %q", cmds[k+2:k+4])
	}
	repo := pinned[:strings.LastIndex(pinned, "@")+1]
	byDigest := "(" + psQuote(repo) + " + $digest)"
	for i, want := range []struct {
		words []string
		tail  string
	}{
		{[]string{ctr, "-n", "k8s.io", "images", "tag", "--force", tag}, " " + byDigest},
		{[]string{ctr, "-n", "k8s.io", "images", "label"}, " " + byDigest + " " + psQuote(PinLabel)},
	} {
		line := cmds[k+4+2*i]
		head, ok := strings.CutSuffix(line, want.tail)
		words, err := pwsh.CallWords(head)
		if !ok || err != nil || strings.Join(words, "\x00") != strings.Join(want.words, "\x00") {
			t.Errorf("digest record line %q: %v", line, err)
		}
	}
	checkThrow(t, cmds[k+5], "ctr images tag failed: ", tag)
	checkThrow(t, cmds[k+7], "ctr images label failed: ", tag)
	return k + 8
}

func checkThrow(t *testing.T, line, msg, value string) {
	t.Helper()
	q, ok := strings.CutPrefix(line, "if ($LASTEXITCODE -ne 0) { throw "+psQuote(msg)+" + ")
	q, ok2 := strings.CutSuffix(q, " }")
	v, rest, ok3 := pwsh.Unquote(q)
	if !ok || !ok2 || !ok3 || rest != "" || v != value {
		t.Errorf("throw line %q", line)
	}
}

func TestComponentPullsPinsTagsAndValidates(t *testing.T) {
	bp := planWith("123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:2.3.1", "nginx:1.27", "mcr.microsoft.com/dotnet/framework/aspnet@"+digestA)
	c, err := ComponentFor(bp, DefaultCtr, "kubectl-winimage test")
	if err != nil {
		t.Fatal(err)
	}
	checkComponent(t, c, DefaultCtr, [][2]string{
		{"123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web@" + digestA, "123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:2.3.1"},
		{"docker.io/library/nginx@" + digestB, "docker.io/library/nginx:1.27"},
		{"mcr.microsoft.com/dotnet/framework/aspnet@" + digestA, ""},
	}, []string{"us-east-2", "", ""})
	data, _ := c.YAML()
	if !strings.Contains(string(data), "schemaVersion: 1.0\n") {
		t.Errorf("schemaVersion:\n%s", data)
	}
	p := PolicyFor(bp)
	if p == nil || len(p.Statement) != 2 || len(p.Statement[1].Resource) != 1 || p.Statement[1].Resource[0] != "arn:aws:ecr:us-east-2:123456789012:repository/shop/web" {
		t.Errorf("policy %+v", p)
	}
}

func TestComponentRejectsBadReferences(t *testing.T) {
	for _, ref := range []string{"UPPER/case:1", "repo:tag'; calc", "repo:bad tag", "a//b:1"} {
		if _, err := ComponentFor(planWith(ref), DefaultCtr, "t"); err == nil {
			t.Errorf("%q accepted", ref)
		}
	}
}

// FuzzComponent throws hostile references and ctr paths at the generator:
// whatever it accepts must parse as YAML, have exactly the intended steps,
// and keep every value inside its quotes.
func FuzzComponent(f *testing.F) {
	f.Add("123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:2.3.1", DefaultCtr)
	f.Add("nginx:1.27", `C:\it's\ctr.exe`)
	f.Add("registry.example/a'b:1", "ctr\u2019 ; Remove-Item C:\\")
	f.Add("r.example:5000/x/y@"+digestB, "$(calc)\n- name: evil")
	f.Fuzz(func(t *testing.T, ref, ctr string) {
		if ctr == "" {
			return
		}
		bp := planWith(ref, "mcr.microsoft.com/windows/servercore:ltsc2022")
		c, err := ComponentFor(bp, ctr, "fuzz")
		if err != nil {
			return
		}
		first, err := targetOf(ref, digestA)
		if err != nil {
			t.Fatalf("generator accepted %q, which targetOf rejects: %v", ref, err)
		}
		region := ""
		if first.ecr != nil {
			region = first.ecr.Region
		}
		checkComponent(t, c, ctr, [][2]string{{first.pinned, first.tag},
			{"mcr.microsoft.com/windows/servercore@" + digestB, "mcr.microsoft.com/windows/servercore:ltsc2022"}}, []string{region, ""})
		bp.Component = c
		checkListComponent(t, bp, ctr)
	})
}

// checkListComponent: the list-reading component of the same build parses,
// has its three steps, and its ctr path reads back whole from its quotes.
func checkListComponent(t *testing.T, bp *BuildPlan, ctr string) {
	src, _ := ParseImageListURI("s3://warm-lists/prod.txt")
	c, err := ComponentFromList(bp, ctr, "fuzz", src)
	if err != nil {
		t.Fatalf("list component refused a ctr path the other took: %v", err)
	}
	data, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var doc decoded
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("list component YAML: %v", err)
	}
	if len(doc.Phases) != 3 || len(doc.Phases[0].Steps) != 2 || len(doc.Phases[1].Steps) != 1 || len(doc.Phases[2].Steps) != 2 {
		t.Fatalf("list component shape: %+v", doc.Phases)
	}
	for _, step := range [][]string{doc.Phases[0].Steps[1].Inputs.Commands, doc.Phases[1].Steps[0].Inputs.Commands} {
		got, rest, ok := pwsh.Unquote(strings.TrimPrefix(step[1], "$ctr = "))
		if !ok || got != ctr || rest != "" {
			t.Fatalf("$ctr reads back as %q (rest %q), want %q", got, rest, ctr)
		}
	}
}

// A build of more images than one inline component holds is cut into
// parts that each fit Image Builder's limit and, in order, pull and check
// every image once.
func TestALargeBuildIsCutIntoPartsThatEachFit(t *testing.T) {
	var refs []string
	for i := range 40 {
		refs = append(refs, fmt.Sprintf("123456789012.dkr.ecr.us-east-2.amazonaws.com/team-%02d/service-with-a-long-name:2022", i))
	}
	bp := planWith(refs...)
	parts, err := ComponentParts(bp, DefaultCtr, "test", MaxInlineComponentData)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d images in %d component", len(refs), len(parts))
	}
	var pulled []string
	for k, c := range parts {
		size, err := DocumentSize(c)
		if err != nil || size > MaxInlineComponentData {
			t.Errorf("part %d: %d characters (%v)", k+1, size, err)
		}
		if want := fmt.Sprintf("winimage-prepull-20348-part%d", k+1); c.Name != want {
			t.Errorf("part %d named %s", k+1, c.Name)
		}
		for _, step := range c.Phases[0].Steps {
			for _, line := range step.Inputs.Commands {
				if strings.Contains(line, "'images' 'pull'") {
					pulled = append(pulled, line)
				}
			}
		}
	}
	if len(pulled) != len(refs) {
		t.Fatalf("%d pulls for %d images", len(pulled), len(refs))
	}
	for i, ref := range refs {
		if !strings.HasSuffix(pulled[i], psQuote(ref)) {
			t.Errorf("pull %d: %s, want %s", i+1, pulled[i], ref)
		}
	}
}
