// Package bake plans what to bake into the next Windows AMI: per Windows
// build, the images worth pulling ahead (ranked by bytes a new node would
// otherwise pull × how often pods start with them, under a disk budget), an
// EC2 Image Builder component that pulls and pins them, the IAM policy its
// instance role needs, and how to launch and use the AMI.
package bake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// APIVersion and Kind of the plan schema.
const (
	APIVersion = "winimage.io/v1alpha1"
	Kind       = "BakePlan"
)

// Plan is bake's output (-o json|yaml prints it as is).
type Plan struct {
	metav1.TypeMeta `json:",inline"`
	ServerVersion   string      `json:"serverVersion"`
	KubernetesMinor string      `json:"kubernetesMinor"`
	Limits          PlanLimits  `json:"limits"`
	Builds          []BuildPlan `json:"builds"`
	CtrRequirement  string      `json:"ctrRequirement"`
	Notes           []string    `json:"notes,omitempty"`
}

// DeepCopyObject lets cli-runtime printers print the plan.
func (p *Plan) DeepCopyObject() runtime.Object { c := *p; return &c }

// PlanLimits echoes the limits the plan was made with.
type PlanLimits struct {
	// MaxBytes is --max-bytes; without it each build's budget is derived
	// from its nodes' volumes (BuildPlan.Disk).
	MaxBytes int64 `json:"maxBytes,omitempty"`
	Top      int   `json:"top,omitempty"`
	MinPods  int   `json:"minPods"`
}

// BuildPlan is the plan for one Windows build: one AMI.
type BuildPlan struct {
	Build         int    `json:"build"`
	WindowsServer string `json:"windowsServer"`
	// HostOSVersion is the newest node OS version of the build, whose
	// image entries were sized.
	HostOSVersion string `json:"hostOSVersion"`
	Nodes         int    `json:"nodes"`
	ChosenBytes   int64  `json:"chosenBytes"`
	// Disk is the root volume and budget the choice was made for.
	Disk   Disk        `json:"disk"`
	Images []Candidate `json:"images"`
	// OnBaseAMI are the images the base AMI already caches whose layers
	// count as present.
	OnBaseAMI []string      `json:"onBaseAMI,omitempty"`
	ECR       []ECRRegistry `json:"ecrRegistries,omitempty"`
	Component *Component    `json:"component,omitempty"`
	IAMPolicy *Policy       `json:"iamPolicy,omitempty"`
	Launch    Launch        `json:"launch"`
}

// Chosen are the candidates the plan bakes, in the plan's order.
func (bp *BuildPlan) Chosen() []Candidate {
	var out []Candidate
	for _, c := range bp.Images {
		if c.Chosen {
			out = append(out, c)
		}
	}
	return out
}

// Options configure Make.
type Options struct {
	Limits
	// AMICached lists images the base AMI caches; nil means the
	// EKS-optimized AMI's servercore and nanoserver for each build.
	AMICached []string
	// Ctr is ctr.exe's path on the build instance.
	Ctr string
	// Generator names the tool and version in the component.
	Generator string
	// Builds limits the plan to these Windows builds (nil: every build).
	Builds map[int]bool
	// Disk is what each build's budget derives from when Limits.MaxBytes
	// (--max-bytes) is 0.
	Disk DiskOptions
}

// windowsServer names the release of each LTSC build the EKS-optimized
// AMIs exist for.
var windowsServer = map[int]string{17763: "2019", 20348: "2022", 26100: "2025"}

// Make turns an audit (images and pulls sections) into the plan. resolver
// is the one the audit used: every manifest it needs is cached there.
func Make(ctx context.Context, r *audit.Report, resolver *imagesize.Resolver, o Options) (*Plan, error) {
	p := &Plan{TypeMeta: metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind}, ServerVersion: r.ServerVersion, Builds: []BuildPlan{},
		Limits: PlanLimits{MaxBytes: o.MaxBytes, Top: o.Top, MinPods: o.MinPods}, CtrRequirement: CtrRequirement}
	if v, err := version.ParseGeneric(r.ServerVersion); err == nil {
		p.KubernetesMinor = fmt.Sprintf("%d.%d", v.Major(), v.Minor())
	} else {
		p.Notes = append(p.Notes, fmt.Sprintf("server version %q: %v; the SSM parameters need the Kubernetes minor", r.ServerVersion, err))
	}
	byBuild := map[int][]*inventory.Node{}
	for i := range r.Nodes {
		n := &r.Nodes[i]
		if n.OS != "windows" || n.Build == 0 || (o.Builds != nil && !o.Builds[n.Build]) {
			continue
		}
		byBuild[n.Build] = append(byBuild[n.Build], n)
	}
	for _, build := range slices.Sorted(maps.Keys(byBuild)) {
		bp, notes, err := planBuild(ctx, r, resolver, o, build, byBuild[build], p.KubernetesMinor)
		if err != nil {
			return nil, err
		}
		p.Notes = append(p.Notes, notes...)
		p.Builds = append(p.Builds, *bp)
	}
	if len(p.Builds) == 0 {
		p.Notes = append(p.Notes, "no Windows nodes selected: nothing to bake")
	}
	p.shareParallelLaunches()
	return p, nil
}

func planBuild(ctx context.Context, r *audit.Report, resolver *imagesize.Resolver, o Options, build int, nodes []*inventory.Node, minor string) (*BuildPlan, []string, error) {
	newest := nodes[0]
	for _, n := range nodes[1:] {
		if n.Revision > newest.Revision {
			newest = n
		}
	}
	host := entryTarget{platform: osbuild.HostPlatform(newest.OS, newest.Arch, newest.OSVersion), rule: osbuild.RuleOf(newest.Containerd)}
	bp := &BuildPlan{Build: build, WindowsServer: windowsServer[build], HostOSVersion: newest.OSVersion, Nodes: len(nodes), Images: []Candidate{}}
	var notes []string
	if bp.WindowsServer == "" {
		notes = append(notes, fmt.Sprintf("build %d is not an LTSC build EKS publishes optimized AMIs for", build))
	}
	onAMI, amiNotes := baseAMILayers(ctx, resolver, o, bp, host, nodes)
	notes = append(notes, amiNotes...)
	pulls := pullsOn(r, nodes)
	for _, img := range r.Images {
		if c, used := candidateFor(ctx, resolver, img, build, host, pulls[img.Ref]); used {
			bp.Images = append(bp.Images, c)
		}
	}
	bp.Disk = diskFor(nodes, o.Disk, o.MaxBytes)
	lim := o.Limits
	lim.MaxBytes = bp.Disk.BudgetBytes
	bp.Images = choose(bp.Images, onAMI, lim)
	if err := bp.finish(o); err != nil {
		return nil, nil, err
	}
	var leftOut int64
	for _, c := range bp.Images {
		if c.overBudget {
			leftOut += c.ColdBytes
		}
	}
	bp.Disk.wantVolume(bp.ChosenBytes, leftOut)
	bp.Launch = LaunchFor(bp, nodes, minor)
	return bp, notes, nil
}

// observedPulls are the kubelet pulls of one image on a build's nodes.
type observedPulls struct {
	count int
	total time.Duration
}

// pullsOn gathers kubelet pulls of each image on the given nodes.
func pullsOn(r *audit.Report, nodes []*inventory.Node) map[string]observedPulls {
	inBuild := map[string]bool{}
	for _, n := range nodes {
		inBuild[n.Name] = true
	}
	pulls := map[string]observedPulls{}
	for _, s := range r.Pulls {
		for node, count := range s.PerNode {
			if inBuild[node] {
				p := pulls[s.Image]
				p.count += count
				p.total += s.PerNodeTime[node]
				pulls[s.Image] = p
			}
		}
	}
	return pulls
}

// baseAMILayers are the layers the base AMI already caches for the build
// (recorded in bp.OnBaseAMI), with notes on what could not be read.
func baseAMILayers(ctx context.Context, resolver *imagesize.Resolver, o Options, bp *BuildPlan, host entryTarget, nodes []*inventory.Node) (map[string]bool, []string) {
	onAMI := map[string]bool{}
	var notes []string
	cached := o.AMICached
	if cached == nil {
		cached = asOnNodes(defaultAMICached(bp.Build), nodes)
	}
	for _, ref := range cached {
		layers, err := layersFor(ctx, resolver, ref, host)
		if errors.Is(err, errNoEntry) {
			// Another build's image: this build's AMI cannot hold it.
			continue
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("build %d: could not read %s, which the base AMI caches (%v); its layers count as cold", bp.Build, ref, err))
			continue
		}
		bp.OnBaseAMI = append(bp.OnBaseAMI, ref)
		for _, l := range layers {
			onAMI[l.digest] = true
		}
	}
	return onAMI, notes
}

// candidateFor is img as a candidate for the build's AMI, and whether pods
// on the build use it at all.
func candidateFor(ctx context.Context, resolver *imagesize.Resolver, img audit.Image, build int, host entryTarget, pulls observedPulls) (Candidate, bool) {
	c := Candidate{Ref: img.Ref, Digest: img.Digest, Pulls: pulls.count}
	if pulls.count > 0 {
		c.ObservedPull = pulls.total / time.Duration(pulls.count)
	}
	used := false
	for _, ps := range img.Platforms {
		if v, err := osbuild.Parse(ps.NodeOSVersion); err == nil && v.Build == build {
			used = true
			c.Pods += ps.Pods
		}
	}
	if !used {
		return c, false
	}
	c.Starts = c.Pods + c.Pulls
	switch {
	case img.Error != "":
		c.Reason = "registry lookup failed: " + img.Error
		return c, true
	case img.Digest == "":
		c.Reason = "no digest: the registry was not read (--no-registry?)"
		return c, true
	}
	m, ok, err := host.entry(ctx, resolver, resolver.Resolve(ctx, img.Ref))
	switch {
	case err != nil:
		c.Reason = "registry lookup failed: " + err.Error()
	case !ok:
		c.Reason = fmt.Sprintf("no entry runs on Windows %s", host.platform.OSVersion)
	default:
		c.Entry, c.Bytes = m.Digest, m.Size
		for i, d := range m.LayerDigests {
			c.layers = append(c.layers, layer{digest: d, size: m.LayerSizes[i]})
		}
		if t, err := targetOf(img.Ref, img.Digest); err != nil {
			c.Reason, c.layers = err.Error(), nil
		} else {
			c.Pinned = t.pinned
		}
	}
	return c, true
}

// finish totals the chosen images and derives the ECR registries, the
// component and the IAM policy from them.
func (bp *BuildPlan) finish(o Options) error {
	registries := map[string]ECRRegistry{}
	for _, c := range bp.Chosen() {
		bp.ChosenBytes += c.ColdBytes
		if t, err := targetOf(c.Ref, c.Digest); err == nil && t.ecr != nil {
			registries[t.ecr.Host] = *t.ecr
		}
	}
	for _, host := range slices.Sorted(maps.Keys(registries)) {
		bp.ECR = append(bp.ECR, registries[host])
	}
	if len(bp.Chosen()) == 0 {
		return nil
	}
	comp, err := ComponentFor(bp, o.Ctr, o.Generator)
	if err != nil {
		return err
	}
	bp.Component = comp
	bp.IAMPolicy = PolicyFor(bp)
	return nil
}

// baseImageRegistry is where the EKS-optimized Windows AMI's cached base
// images come from.
var baseImageRegistry = "mcr.microsoft.com"

// defaultAMICached is what the EKS-optimized Windows AMIs cache: the
// servercore and nanoserver of their own release (and pause, which is
// too small to matter here).
func defaultAMICached(build int) []string {
	ltsc := map[int]string{17763: "ltsc2019", 20348: "ltsc2022", 26100: "ltsc2025"}[build]
	if ltsc == "" {
		return []string{}
	}
	return []string{baseImageRegistry + "/windows/servercore:" + ltsc, baseImageRegistry + "/windows/nanoserver:" + ltsc}
}

// asOnNodes replaces each repo:tag with the repo@digest the nodes report
// in status.images (the most common one): Microsoft republishes
// servercore:ltscYYYY every month, and an AMI holds its own release's
// digest, not today's tag. A tag no node reports stays as it is.
func asOnNodes(refs []string, nodes []*inventory.Node) []string {
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		repo := ref
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			repo = ref[:i]
		}
		counts := map[string]int{}
		for _, n := range nodes {
			for name := range n.Images {
				if strings.HasPrefix(name, repo+"@sha256:") {
					counts[name]++
				}
			}
		}
		best := ref
		for _, name := range slices.Sorted(maps.Keys(counts)) {
			if best == ref || counts[name] > counts[best] {
				best = name
			}
		}
		out = append(out, best)
	}
	return out
}

var errNoEntry = errors.New("no entry for the build")

// entryTarget is the nodes an AMI is planned for: their platform, and how
// their containerd picks among matching index entries (the newest node's
// line: 1.x the first, 2.x the highest os.version).
type entryTarget struct {
	platform ocispec.Platform
	rule     osbuild.Rule
}

func (t entryTarget) entry(ctx context.Context, resolver *imagesize.Resolver, img *imagesize.Image) (imagesize.Manifest, bool, error) {
	return resolver.ForRule(ctx, img, t.platform, t.rule)
}

func layersFor(ctx context.Context, resolver *imagesize.Resolver, ref string, host entryTarget) ([]layer, error) {
	img := resolver.Resolve(ctx, ref)
	if img.Err != nil {
		return nil, img.Err
	}
	m, ok, err := host.entry(ctx, resolver, img)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNoEntry
	}
	out := make([]layer, len(m.LayerDigests))
	for i, d := range m.LayerDigests {
		out[i] = layer{digest: d, size: m.LayerSizes[i]}
	}
	return out, nil
}
