package bake

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"
)

// PinLabel is the label containerd's CRI plugin reads as "pinned": kubelet's
// image GC never removes such an image.
const PinLabel = "io.cri-containerd.pinned=pinned"

// DefaultCtr is where the EKS-optimized Windows AMIs install ctr.
const DefaultCtr = `C:\Program Files\containerd\ctr.exe`

// CtrRequirement says which ctr the component needs; every command and
// flag it uses (`ctr images pull --platform --label --user`, `images list
// -q`, `images check`, `images list`) runs in the end-to-end tests
// against ctr v2.4.2, and the platform pull against v1.7.35 and v2.1.9: the
// lines the EKS Windows AMIs ship (1.7.x for Kubernetes up to 1.33, 2.1.x
// from 1.34, on Server 2019, 2022 and 2025 alike).
const CtrRequirement = "containerd 1.7 or 2.x on the build instance (ctr images pull --platform/--label/--user, images list, images check)"

// Component is an EC2 Image Builder component document.
type Component struct {
	Name          string        `json:"name" yaml:"name"`
	Description   string        `json:"description" yaml:"description"`
	SchemaVersion schemaVersion `json:"schemaVersion" yaml:"schemaVersion"`
	Phases        []Phase       `json:"phases" yaml:"phases"`
}

// Phase is one of build, validate, test.
type Phase struct {
	Name  string `json:"name" yaml:"name"`
	Steps []Step `json:"steps" yaml:"steps"`
}

// Step runs PowerShell commands.
type Step struct {
	Name   string     `json:"name" yaml:"name"`
	Action string     `json:"action" yaml:"action"`
	Inputs StepInputs `json:"inputs" yaml:"inputs"`
}

// StepInputs of an ExecutePowerShell step.
type StepInputs struct {
	Commands []string `json:"commands" yaml:"commands"`
}

// schemaVersion is the document's 1.0, written as the number Image Builder
// documents show (a plain float would print as 1).
type schemaVersion struct{}

func (schemaVersion) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "1.0"}, nil
}

func (schemaVersion) MarshalJSON() ([]byte, error) { return []byte("1.0"), nil }

// UnmarshalJSON reads a plan back (pipelines do); 1.0 is the only version.
func (*schemaVersion) UnmarshalJSON(b []byte) error {
	if v, err := strconv.ParseFloat(string(b), 64); err != nil || v != 1 {
		return fmt.Errorf("component schemaVersion %s: only 1.0 is known", b)
	}
	return nil
}

// pullTarget is one chosen image as the component pulls it.
type pullTarget struct {
	// pinned is repository@digest; tag is repository:tag ("" when the pod
	// used a digest), created from it so kubelet finds the pod's name.
	pinned, tag string
	ecr         *ECRRegistry
}

// targetOf parses ref strictly and pins it to digest. Names are written
// the way the CRI plugin normalizes kubelet's (docker.io/library/…), so
// the tag record is the one kubelet looks up.
func targetOf(ref, digest string) (pullTarget, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return pullTarget{}, fmt.Errorf("image %q: %w", ref, err)
	}
	if _, err := name.ParseReference(named.String(), name.StrictValidation); err != nil {
		return pullTarget{}, fmt.Errorf("image %q: %w", ref, err)
	}
	repo := reference.TrimNamed(named).String()
	d, err := name.NewDigest(repo+"@"+digest, name.StrictValidation)
	if err != nil {
		return pullTarget{}, fmt.Errorf("image %q digest %q: %w", ref, digest, err)
	}
	t := pullTarget{pinned: repo + "@" + d.DigestStr()}
	if tagged, ok := named.(reference.Tagged); ok {
		t.tag = repo + ":" + tagged.Tag()
	}
	if r, ok := parseECR(reference.Domain(named)); ok {
		t.ecr = &r
	}
	return t, nil
}

// PlatformFor is ctr's --platform for exactly one Windows build's entry.
// Plain windows/amd64 carries no OS version, so every Windows entry
// matches: ctr 1.7 then unpacks the first in the index (a 17763 entry can
// land on a 20348 AMI) and ctr 2.x every one. Both parse the OS version in
// parentheses (containerd/platforms v0.2.1, which ctr v1.7.35 uses, and
// v1.0.0-rc.2 of ctr v2.1.9: platforms.go Parse, `<os>[(<OSVersion>)]`),
// and their Windows matcher then accepts only entries the build can run.
func PlatformFor(build int) string { return fmt.Sprintf("windows(10.0.%d)/amd64", build) }

// MaxInlineComponentData is the most component data Image Builder takes
// inline (botocore imagebuilder 2019-12-02 InlineComponentData: max
// 16,000); a build of about ten images passes it.
const MaxInlineComponentData = 16000

// ComponentFor writes the component that pulls the chosen images of one
// build: a step per image (log in to its ECR registry, pull by digest with
// the pin label, tag with the name pods use) and a validate step that fails
// the build if any is missing. Each step is its own PowerShell process, so
// each gets its own ECR token.
func ComponentFor(bp *BuildPlan, ctr, generator string) (*Component, error) {
	parts, err := ComponentParts(bp, ctr, generator, 0)
	if err != nil {
		return nil, err
	}
	return parts[0], nil
}

// ComponentParts is ComponentFor cut into components whose documents each
// fit limit characters (0: no limit, one component), in order: an image
// recipe runs several. Each part validates its own images.
func ComponentParts(bp *BuildPlan, ctr, generator string, limit int) ([]*Component, error) {
	if err := checkPath(ctr); err != nil {
		return nil, err
	}
	var pulls []imagePull
	for i, cand := range bp.Chosen() {
		p, err := pullStep(bp.Build, i, cand, ctr)
		if err != nil {
			return nil, err
		}
		pulls = append(pulls, p)
	}
	groups := [][]imagePull{{}}
	for _, p := range pulls {
		last := len(groups) - 1
		grown := append(slices.Clone(groups[last]), p)
		if limit > 0 && len(groups[last]) > 0 {
			// Sized with a part suffix, which a split adds to the name.
			size, err := DocumentSize(assemble(bp, ctr, generator, grown, 99))
			if err != nil {
				return nil, err
			}
			if size > limit {
				groups = append(groups, []imagePull{p})
				continue
			}
		}
		groups[last] = grown
	}
	var out []*Component
	for k, g := range groups {
		part := k + 1
		if len(groups) == 1 {
			part = 0
		}
		c := assemble(bp, ctr, generator, g, part)
		if size, err := DocumentSize(c); err != nil {
			return nil, err
		} else if limit > 0 && size > limit {
			return nil, fmt.Errorf("build %d: the component for %s alone is %d characters, over the %d Image Builder takes inline", bp.Build, g[0].pinned, size, limit)
		}
		out = append(out, c)
	}
	return out, nil
}

// imagePull is one image's pull step, the reference it pulls and the
// names it leaves.
type imagePull struct {
	step   Step
	pinned string
	want   []string
}

// pullStep pulls one image as kubelet will ask for it. A tag is resolved
// when the AMI is built: the pipeline rebuilds on a schedule, and a tag
// pinned to the digest seen at plan time would bake that old digest into
// every rebuild, which kubelet then runs under IfNotPresent. A reference
// by digest is pulled by that digest. Either way the record kubelet looks
// up carries the pin label (ctr images pull --label).
func pullStep(build, i int, cand Candidate, ctr string) (imagePull, error) {
	t, err := targetOf(cand.Ref, cand.Digest)
	if err != nil {
		return imagePull{}, err
	}
	ref := t.pinned
	if t.tag != "" {
		ref = t.tag
	}
	cmds := []string{"$ErrorActionPreference = 'Stop'"}
	pull := []string{"-n", "k8s.io", "images", "pull", "--platform", PlatformFor(build), "--label", PinLabel}
	if t.ecr != nil {
		cmds = append(cmds, "$password = (Get-ECRLoginCommand -Region "+psQuote(t.ecr.Region)+").Password")
		// The token goes in as one argument built from two literals.
		cmds = append(cmds, psCommand(ctr, pull...)+" --user ('AWS:' + $password) "+psQuote(ref))
	} else {
		cmds = append(cmds, psCommand(ctr, append(pull, ref)...))
	}
	cmds = append(cmds, "if ($LASTEXITCODE -ne 0) { throw 'ctr images pull failed: ' + "+psQuote(ref)+" }")
	if t.tag != "" {
		cmds = append(cmds, digestRecord(ctr, t)...)
	}
	return imagePull{step: Step{Name: fmt.Sprintf("PullImage%d", i+1), Action: "ExecutePowerShell", Inputs: StepInputs{Commands: cmds}},
		pinned: ref, want: []string{ref}}, nil
}

// digestRecord gives a tag pulled with ctr the repo@digest record CRI's own
// pull makes beside it: CRI reports an image's RepoDigests from such
// records only (a ctr pull by tag leaves none), and kubelet's node status
// then lists the digest the tag holds, which the audit compares with the
// registry. The digest is the tag's, read back from containerd (ctr images
// list prints REF TYPE DIGEST …). A tag made through the transfer API
// does not copy labels, so the record is labelled pinned itself.
func digestRecord(ctr string, t pullTarget) []string {
	repo := strings.TrimSuffix(t.pinned, t.pinned[strings.LastIndex(t.pinned, "@"):])
	byDigest := "(" + psQuote(repo+"@") + " + $digest)"
	return []string{
		"$row = @(" + psCommand(ctr, "-n", "k8s.io", "images", "list", "name=="+t.tag) + ")",
		"if ($LASTEXITCODE -ne 0 -or $row.Count -ne 2) { throw 'ctr images list failed: ' + " + psQuote(t.tag) + " }",
		`$digest = ($row[1] -split '\s+')[2]`,
		"if ($digest -cnotmatch '^sha256:[0-9a-f]{64}$') { throw 'no digest for ' + " + psQuote(t.tag) + " }",
		psCommand(ctr, "-n", "k8s.io", "images", "tag", "--force", t.tag) + " " + byDigest,
		"if ($LASTEXITCODE -ne 0) { throw 'ctr images tag failed: ' + " + psQuote(t.tag) + " }",
		psCommand(ctr, "-n", "k8s.io", "images", "label") + " " + byDigest + " " + psQuote(PinLabel),
		"if ($LASTEXITCODE -ne 0) { throw 'ctr images label failed: ' + " + psQuote(t.tag) + " }",
	}
}

// assemble is the component of pulls: part k of several (0: the only one).
func assemble(bp *BuildPlan, ctr, generator string, pulls []imagePull, part int) *Component {
	name, of := fmt.Sprintf("winimage-prepull-%d", bp.Build), ""
	if part > 0 {
		name, of = fmt.Sprintf("%s-part%d", name, part), fmt.Sprintf(" (part %d)", part)
	}
	c := &Component{
		Name: name,
		Description: fmt.Sprintf("Pre-pulls %d images for Windows Server %s (build %d) EKS nodes into containerd's k8s.io namespace, pinned against kubelet image GC%s. Generated by %s. Needs %s.",
			len(pulls), bp.WindowsServer, bp.Build, of, generator, CtrRequirement),
	}
	build := Phase{Name: "build"}
	var quoted []string
	for _, p := range pulls {
		build.Steps = append(build.Steps, p.step)
		for _, w := range p.want {
			quoted = append(quoted, psQuote(w))
		}
	}
	validate := Phase{Name: "validate", Steps: []Step{{Name: "ImagesPresent", Action: "ExecutePowerShell", Inputs: StepInputs{Commands: []string{
		"$ErrorActionPreference = 'Stop'",
		"$names = " + psCommand(ctr, "-n", "k8s.io", "images", "list", "-q"),
		"if ($LASTEXITCODE -ne 0) { throw 'ctr images list failed' }",
		"$missing = @(" + strings.Join(quoted, ", ") + ") | Where-Object { $names -notcontains $_ }",
		"if ($missing) { throw ('images missing after the build: ' + ($missing -join ', ')) }",
	}}}}}
	c.Phases = []Phase{build, validate, testPhase(ctr, []string{"$ErrorActionPreference = 'Stop'"}, "@("+strings.Join(quoted, ", ")+")")}
	return c
}

func DocumentSize(c *Component) (int, error) {
	data, err := c.YAML()
	return len([]rune(string(data))), err
}

// YAML encodes the component (through the YAML encoder: no value is ever
// pasted into YAML text).
func (c *Component) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkPath refuses a ctr path no Windows file could have: empty, not
// UTF-8, or with control characters (a newline would start a new command).
func checkPath(p string) error {
	if p == "" || !utf8.ValidString(p) || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return fmt.Errorf("--ctr %q: not a file path", p)
	}
	return nil
}
