//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
	"github.com/winimage-io/kubectl-winimage/test/cfnspec"
	"github.com/winimage-io/kubectl-winimage/test/pwsh"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// Two Windows builds; servercore is what the base AMI caches. On 20348,
// web (3 pods + 4 pulls) beats cart (2 + 2), then agent (3 init pods),
// and big (2 pods, 6 MiB of its own) no longer fits 8 MiB. On 17763,
// legacy (2 pods + 1 pull) is chosen and web (1 pod) is below --min-pods.
const bakeFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [3Mi, 1Mi]}
    nano: {layers: [1Mi]}
  images:
  - {ref: windows/servercore:ltsc, bases: [sc], layers: [], windows: [10.0.17763.6893, 10.0.20348.2582], linux: true}
  - {ref: shop/web:1, bases: [sc], layers: [2Mi], windows: [10.0.17763.6893, 10.0.20348.2582], linux: true}
  - {ref: shop/cart:1, bases: [sc], layers: [1Mi], windows: [10.0.20348.2582], linux: true}
  - {ref: shop/big:1, bases: [sc], layers: [6Mi], windows: [10.0.20348.2582], linux: true}
  - {ref: erp/legacy:1, bases: [sc], layers: [512Ki], windows: [10.0.17763.6893], linux: true}
  - {ref: tools/agent:1, bases: [nano], layers: [256Ki], windows: [10.0.17763.6893, 10.0.20348.2582], linux: true}
nodeGroups:
- {name: ng-2022, kind: managed, count: 3, windowsVersion: 10.0.20348.2582, ami: ami-0a1b2c3d4e5f60001, kubelet: v1.37.2-eks-1a2b3c4, zone: us-east-2a}
- {name: ng-2019, kind: managed, count: 2, windowsVersion: 10.0.17763.6893, ami: ami-0b2c3d4e5f6a70002, kubelet: v1.37.2-eks-1a2b3c4, zone: us-east-2b}
workloads:
- {name: web, namespace: shop, replicas: 3, images: [shop/web:1], initImages: [tools/agent:1], nodeGroup: ng-2022}
- {name: cart, namespace: shop, replicas: 2, images: [shop/cart:1], nodeGroup: ng-2022}
- {name: big, namespace: shop, replicas: 2, images: [shop/big:1], nodeGroup: ng-2022}
- {name: legacy, namespace: erp, replicas: 2, images: [erp/legacy:1], nodeGroup: ng-2019}
- {name: web-2019, namespace: shop, replicas: 1, images: [shop/web:1], nodeGroup: ng-2019}
pullEvents:
- {image: shop/web:1, nodeGroup: ng-2022, namespace: shop, durations: [8m2s, 7m41s, 9m5s, 6m58s]}
- {image: shop/cart:1, nodeGroup: ng-2022, namespace: shop, durations: [6m10s, 5m52s]}
- {image: erp/legacy:1, nodeGroup: ng-2019, namespace: erp, durations: [12m30s]}
`

func TestBakeRanksBuildsAndItsComponentReallyPullsAndPins(t *testing.T) {
	r, applied := startRig(t, bakeFleet)
	base := applied.Ref("windows/servercore:ltsc")
	args := []string{"bake", "--max-bytes", "8Mi", "--min-pods", "2", "--ami-cached", base}

	out, stderr, code := runPlugin(t, r.Kubeconfig, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("bake -o json: exit %d\n%s", code, stderr)
	}
	var plan bake.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if plan.Kind != "BakePlan" || plan.KubernetesMinor != "1.37" || len(plan.Builds) != 2 || plan.Builds[0].Build != 17763 || plan.Builds[1].Build != 20348 {
		t.Fatalf("plan: %s", out)
	}
	phase(t, "ranking and launch advice", func(t *testing.T) {
		byRef := func(bp bake.BuildPlan) map[string]bake.Candidate {
			m := map[string]bake.Candidate{}
			for _, c := range bp.Images {
				m[strings.TrimPrefix(c.Ref, r.Registry.Host()+"/")] = c
			}
			return m
		}
		b2022 := byRef(plan.Builds[1])
		for ref, want := range map[string]struct {
			rank, starts int
			reason       string
		}{
			"shop/web:1":    {1, 7, "7 pod starts"},
			"shop/cart:1":   {2, 4, "4 pod starts"},
			"tools/agent:1": {3, 3, "3 pod starts"},
			"shop/big:1":    {0, 2, "over the budget"},
		} {
			c := b2022[ref]
			if c.Rank != want.rank || c.Starts != want.starts || !strings.Contains(c.Reason, want.reason) || c.Chosen != (want.rank > 0) {
				t.Errorf("20348 %s: rank %d starts %d chosen %v %q; want rank %d starts %d %q", ref, c.Rank, c.Starts, c.Chosen, c.Reason, want.rank, want.starts, want.reason)
			}
		}
		// servercore's layers are on the base AMI: web's cold bytes are its own
		// layer only, and cart's too.
		if web, cart := b2022["shop/web:1"], b2022["shop/cart:1"]; web.ColdBytes >= web.Bytes || web.ColdBytes < 2<<20 || cart.ColdBytes >= cart.Bytes {
			t.Errorf("cold bytes: web %d of %d, cart %d of %d", web.ColdBytes, web.Bytes, cart.ColdBytes, cart.Bytes)
		}
		b2019 := byRef(plan.Builds[0])
		if c := b2019["erp/legacy:1"]; c.Rank != 1 || c.Starts != 3 {
			t.Errorf("17763 legacy: %+v", c)
		}
		if c := b2019["shop/web:1"]; c.Chosen || !strings.Contains(c.Reason, "below --min-pods 2") {
			t.Errorf("17763 web: %+v", c)
		}
		for _, bp := range plan.Builds {
			l := bp.Launch
			if !strings.HasSuffix(l.BaseAMIParameter, "-English-Core-EKS_Optimized-1.37/image_id") || l.ScaleOutPerHour != bp.Nodes || l.FastLaunch.SnapshotCount != bp.Nodes || l.FastLaunch.Region != "us-east-2" {
				t.Errorf("build %d launch: %+v", bp.Build, l)
			}
		}
	})

	phase(t, "each component parses; 20348's ctr lines pull and pin", func(t *testing.T) {
		// The component of each build parses and has a pull step per chosen
		// image, in rank order, and one validate step.
		for _, bp := range plan.Builds {
			out, stderr, code := runPlugin(t, r.Kubeconfig, append(args, "--build", strconv.Itoa(bp.Build), "-o", "component")...)
			if code != 0 {
				t.Fatalf("-o component: %s", stderr)
			}
			var doc struct {
				Phases []struct {
					Name  string `yaml:"name"`
					Steps []struct {
						Name   string `yaml:"name"`
						Inputs struct {
							Commands []string `yaml:"commands"`
						} `yaml:"inputs"`
					} `yaml:"steps"`
				} `yaml:"phases"`
			}
			if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("component YAML: %v\n%s", err, out)
			}
			var chosen []string
			for _, c := range bp.Images {
				if c.Chosen {
					chosen = append(chosen, bakedName(c))
				}
			}
			if len(doc.Phases) != 3 || len(doc.Phases[0].Steps) != len(chosen) || len(doc.Phases[1].Steps) != 1 || doc.Phases[2].Name != "test" {
				t.Fatalf("build %d component shape:\n%s", bp.Build, out)
			}
			for i, step := range doc.Phases[0].Steps {
				if !strings.Contains(strings.Join(step.Inputs.Commands, "\n"), chosen[i]) {
					t.Errorf("build %d step %d does not pull %s", bp.Build, i+1, chosen[i])
				}
			}
			if bp.Build == 20348 {
				// After the plan, web's tag moves (to agent's index): a
				// scheduled rebuild must bake what the tag names at build
				// time, not the digest the plan saw.
				web, agent := chosenImage(t, bp, applied.Ref("shop/web:1")), chosenImage(t, bp, applied.Ref("tools/agent:1"))
				moveTag(t, agent.Pinned, web.Ref)
				defer moveTag(t, web.Pinned, web.Ref)
				runComponent(t, r.Containerd, r.Binaries.Ctr, doc.Phases[0].Steps[0].Inputs.Commands, doc.Phases[0].Steps[1].Inputs.Commands, doc.Phases[0].Steps[2].Inputs.Commands)
				// Kubelet sees each chosen image under the pods' name, at
				// the digest its tag names now, pinned; the record carries
				// the pin label.
				labelled, err := r.Containerd.ImagesLabelled(context.Background(), "io.cri-containerd.pinned")
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range bp.Images {
					if !c.Chosen {
						continue
					}
					want := c.Pinned
					if c.Ref == web.Ref {
						want = strings.TrimSuffix(web.Pinned, web.Digest) + agent.Digest
					}
					img := criImage(t, r.Containerd, c.Ref)
					if img == nil || !img.Pinned || !slices.Contains(img.RepoDigests, want) {
						t.Errorf("after the component's ctr lines: %s through CRI: %+v, want %s", c.Ref, img, want)
					}
					if !slices.Contains(labelled, bakedName(c)) || !slices.Contains(labelled, want) {
						t.Errorf("pin label on %s and %s? labelled: %v", bakedName(c), want, labelled)
					}
				}
				if img := criImage(t, r.Containerd, applied.Ref("shop/big:1")); img != nil {
					t.Error("an image left out was pulled")
				}
				// The validate step's list finds every name it checks.
				list, err := pwsh.CallWords(strings.TrimPrefix(doc.Phases[1].Steps[0].Inputs.Commands[1], "$names = "))
				if err != nil {
					t.Fatal(err)
				}
				names := runCtr(t, r.Containerd, r.Binaries.Ctr, list)
				for _, c := range bp.Images {
					if c.Chosen && !slices.Contains(names, bakedName(c)) {
						t.Errorf("ctr images list -q lacks %s:\n%s", bakedName(c), strings.Join(names, "\n"))
					}
				}
				checkTestPhase(t, r, doc.Phases[2].Steps[1].Inputs.Commands, bp, applied.Ref("shop/big:1"))
			}
		}
	})

	phase(t, "-o cloudformation: one template for both builds, to the specification", func(t *testing.T) {
		out, stderr, code := runPlugin(t, r.Kubeconfig, append(args, "-o", "cloudformation", "--cluster-name", "rig-east")...)
		if code != 0 {
			t.Fatalf("-o cloudformation: exit %d\n%s", code, stderr)
		}
		var tmpl map[string]any
		if err := yaml.Unmarshal([]byte(out), &tmpl); err != nil {
			t.Fatalf("template YAML: %v\n%s", err, out)
		}
		data, err := json.Marshal(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if errs := cfnspec.ForTest(t).Validate(data); len(errs) > 0 {
			t.Fatalf("template does not hold to the specification:\n%s", strings.Join(errs, "\n"))
		}
		resources := tmpl["Resources"].(map[string]any)
		for _, bp := range plan.Builds {
			want, _, _ := runPlugin(t, r.Kubeconfig, append(args, "--build", strconv.Itoa(bp.Build), "-o", "component")...)
			comp := resources["Component"+bp.WindowsServer].(map[string]any)["Properties"].(map[string]any)
			if comp["Data"] != want {
				t.Errorf("build %d: the template's component is not -o component's", bp.Build)
			}
		}
		for _, s := range []string{"CloudFormation template for cluster rig-east: 17 resources", "Pipeline2019", "Pipeline2022", "AWS::ImageBuilder::ImagePipeline"} {
			if !strings.Contains(stderr, s) {
				t.Errorf("summary lacks %q:\n%s", s, stderr)
			}
		}
		// A kubeconfig cluster that is no EKS name needs --cluster-name: one
		// line, exit 1, before anything is looked up.
		if _, stderr, code := runPlugin(t, r.Kubeconfig, "bake", "-o", "cloudformation", "--cluster-name", "not a name"); code != 1 || !strings.Contains(stderr, "--cluster-name") {
			t.Errorf("bad cluster name: exit %d %s", code, stderr)
		}
	})

	phase(t, "policy, bad flags and the table", func(t *testing.T) {
		// No chosen image is in private ECR: no policy to print, said clearly.
		if _, stderr, code := runPlugin(t, r.Kubeconfig, append(args, "--build", "20348", "-o", "policy")...); code != 1 || !strings.Contains(stderr, "no private ECR repository") {
			t.Errorf("-o policy: exit %d %s", code, stderr)
		}
		// Bad flags: one line, exit 1.
		for _, bad := range [][]string{{"--max-bytes", "lots"}, {"-o", "component"}, {"-o", "xml"}, {"--build", "1", "--build", "2", "-o", "policy"}} {
			_, stderr, code := runPlugin(t, r.Kubeconfig, append([]string{"bake"}, bad...)...)
			if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("bake %v: exit %d, stderr %q", bad, code, stderr)
			}
		}
		// The table shows both builds and the launch advice.
		out, _, code := runPlugin(t, r.Kubeconfig, args...)
		for _, s := range []string{"WINDOWS SERVER 2019 (build 17763)", "WINDOWS SERVER 2022 (build 20348)", "enable-fast-launch", "amiFamily: Windows2022", "over the budget"} {
			if code != 0 || !strings.Contains(out, s) {
				t.Errorf("table lacks %q:\n%s", s, out)
			}
		}
	})
}

// runComponent runs the ctr lines of pull steps against the rig's
// containerd: the same words, with the rig's ctr and socket, the linux
// platform standing in for windows/amd64, and the rig's hosts.toml (the
// registry is plain HTTP) and snapshotter. The digest record's three
// PowerShell expressions are done here as PowerShell does them: $row
// holds the list's output lines, $digest is the third field of its
// second, ('repo@' + $digest) is that string.
func runComponent(t *testing.T, c *rig.Containerd, ctr string, steps ...[]string) {
	t.Helper()
	digestRE := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	for _, cmds := range steps {
		var row []string
		digest := ""
		for _, line := range cmds {
			switch {
			case strings.HasPrefix(line, "$row = @(& "):
				words, err := pwsh.CallWords(strings.TrimSuffix(strings.TrimPrefix(line, "$row = @("), ")"))
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				row = runCtrLines(t, c, ctr, words)
			case line == `$digest = ($row[1] -split '\s+')[2]`:
				if len(row) != 2 {
					t.Fatalf("the list the digest is read from has %d lines: %q", len(row), row)
				}
				digest = strings.Fields(row[1])[2]
				if !digestRE.MatchString(digest) {
					t.Fatalf("digest %q from %q", digest, row[1])
				}
			case strings.HasPrefix(line, "& "):
				if open := strings.Index(line, " ('"); open >= 0 {
					repo, rest, ok := pwsh.Unquote(line[open+2:])
					after, ok2 := strings.CutPrefix(rest, " + $digest)")
					if !ok || !ok2 || digest == "" {
						t.Fatalf("%q: not a digest expression", line)
					}
					line = line[:open] + " '" + repo + digest + "'" + after
				}
				words, err := pwsh.CallWords(line)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				runCtr(t, c, ctr, words)
			}
		}
	}
}

// bakedName is the name the component pulls an image by: the pod's tag,
// resolved at build time, or its digest.
func bakedName(c bake.Candidate) string {
	if strings.Contains(c.Ref, "@") {
		return c.Pinned
	}
	return c.Ref
}

func chosenImage(t *testing.T, bp bake.BuildPlan, ref string) bake.Candidate {
	t.Helper()
	for _, c := range bp.Images {
		if c.Chosen && c.Ref == ref {
			return c
		}
	}
	t.Fatalf("build %d: %s not chosen", bp.Build, ref)
	return bake.Candidate{}
}

// checkTestPhase runs the ctr lines of the component's test phase (the
// check on an instance of the new AMI) against the rig's containerd after
// the build's pulls, and reads their tables with the phase's own
// patterns: every chosen image is ready and pinned. An image whose blobs
// were fetched but never unpacked nor pinned (left, here the image the
// plan left out) is neither.
func checkTestPhase(t *testing.T, r *rig.Rig, cmds []string, bp bake.BuildPlan, left string) {
	t.Helper()
	runCtr(t, r.Containerd, r.Binaries.Ctr, []string{"ctr", "-n", "k8s.io", "content", "fetch", left})
	defer runCtr(t, r.Containerd, r.Binaries.Ctr, []string{"ctr", "-n", "k8s.io", "images", "rm", left})
	tables := map[string]string{}
	var patterns []*regexp.Regexp
	for _, line := range cmds {
		for _, v := range []string{"$check = ", "$list = "} {
			if call, ok := strings.CutPrefix(line, v); ok {
				words, err := pwsh.CallWords(call)
				if err != nil {
					t.Fatal(err)
				}
				tables[v] = strings.Join(runCtrLines(t, r.Containerd, r.Binaries.Ctr, words), "\n")
			}
		}
		if _, after, ok := strings.Cut(line, "-match "); ok {
			p, _, ok := pwsh.Unquote(after)
			if !ok {
				t.Fatalf("pattern in %q", line)
			}
			patterns = append(patterns, regexp.MustCompile(p))
		}
	}
	if len(tables) != 2 || len(patterns) != 2 {
		t.Fatalf("test phase: %d tables, %d patterns:\n%s", len(tables), len(patterns), strings.Join(cmds, "\n"))
	}
	names := func(table string, p *regexp.Regexp) []string {
		var out []string
		for _, l := range strings.Split(table, "\n") {
			if p.MatchString(l) {
				out = append(out, strings.Fields(l)[0])
			}
		}
		return out
	}
	ready, pinned := names(tables["$check = "], patterns[0]), names(tables["$list = "], patterns[1])
	for _, c := range bp.Images {
		for _, n := range []string{c.Ref, c.Pinned} {
			if c.Chosen && n == bakedName(c) && (!slices.Contains(ready, n) || !slices.Contains(pinned, n)) {
				t.Errorf("the test phase would fail %s: ready %v, pinned %v\n%s\n%s", n, ready, pinned, tables["$check = "], tables["$list = "])
			}
		}
	}
	if slices.Contains(ready, left) || slices.Contains(pinned, left) {
		t.Errorf("the test phase takes %s, fetched but neither unpacked nor pinned, as ready %v or pinned %v", left, ready, pinned)
	}
}

func runCtr(t *testing.T, c *rig.Containerd, ctr string, words []string) []string {
	t.Helper()
	return strings.Fields(strings.Join(runCtrLines(t, c, ctr, words), "\n"))
}

// runCtrLines runs ctr as runCtr does and returns its output's lines.
func runCtrLines(t *testing.T, c *rig.Containerd, ctr string, words []string) []string {
	t.Helper()
	args := []string{"--address", c.Address}
	for _, w := range words[1:] {
		if strings.HasPrefix(w, "windows(") && strings.HasSuffix(w, ")/amd64") {
			w = "linux/amd64"
		}
		args = append(args, w)
		switch w {
		case "pull":
			args = append(args, "--hosts-dir", c.HostsDir, "--snapshotter", c.Snapshotter)
		case "fetch":
			args = append(args, "--hosts-dir", c.HostsDir, "--platform", "linux/amd64")
		case "check":
			args = append(args, "--snapshotter", c.Snapshotter)
		}
	}
	out, err := exec.CommandContext(context.Background(), ctr, args...).Output()
	if err != nil {
		t.Fatalf("ctr %v: %v\n%s", args, err, out)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n")
}
