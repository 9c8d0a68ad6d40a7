package audit

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"

	"github.com/winimage-io/kubectl-winimage/daemon/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/osbuild"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/pulltime"
	"github.com/winimage-io/kubectl-winimage/plugin/skew"
)

// Finding codes raised by the image checks.
const (
	ImageOSIncompatible = "IMAGE_OS_INCOMPATIBLE"
	ImageLookupFailed   = "IMAGE_LOOKUP_FAILED"
)

// Options configure Run.
type Options struct {
	Client kubernetes.Interface
	// NodeSelector picks the audited nodes (kubernetes.io/os=windows).
	NodeSelector string
	// Namespace limits pods and events; "" is all namespaces.
	Namespace string
	Sections  map[string]bool
	// Resolver looks images up; nil skips the registry (--no-registry).
	Resolver *imagesize.Resolver
	// Progress gets a line per phase; nil for none.
	Progress io.Writer
	// PageSize for list calls.
	PageSize int64
	// AWS, when set, enriches nodes and AMIs from EC2 and SSM; AWSError is
	// why it could not be set up (reported as a finding).
	AWS      AMILookup
	AWSError error
}

type usage struct {
	pods     int
	podNames []string
	// nodes maps each node running the image to up to 5 of its pods there.
	nodes map[string][]string
	// podsOn counts the pods using the image on each node.
	podsOn map[string]int
}

// secretsOf lists a pod's pull secrets as namespace/name.
func secretsOf(p *corev1.Pod) []string {
	out := make([]string, 0, len(p.Spec.ImagePullSecrets))
	for _, s := range p.Spec.ImagePullSecrets {
		out = append(out, p.Namespace+"/"+s.Name)
	}
	return out
}

type pendingUse struct {
	pod        string
	image      string
	candidates []string
}

// Run collects everything and builds the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	r := &Report{TypeMeta: metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind}, NodeSelector: o.NodeSelector, Namespace: o.Namespace, Findings: []finding.Finding{}}
	if o.PageSize == 0 {
		o.PageSize = 500
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	sv, err := o.Client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("get server version: %w", err)
	}
	r.ServerVersion = sv.GitVersion

	progress("listing nodes (%s)…", o.NodeSelector)
	selected := map[string]*inventory.Node{}
	var nodeLabels = map[string]labels.Set{}
	err = pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		opts.LabelSelector = o.NodeSelector
		return o.Client.CoreV1().Nodes().List(ctx, opts)
	}).EachListItemWithAlloc(ctx, metav1.ListOptions{Limit: o.PageSize}, func(obj runtime.Object) error {
		n := obj.(*corev1.Node)
		inv := inventory.FromNode(n)
		r.Nodes = append(r.Nodes, inv)
		nodeLabels[n.Name] = labels.Set(n.Labels)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	sort.Slice(r.Nodes, func(i, j int) bool { return r.Nodes[i].Name < r.Nodes[j].Name })
	for i := range r.Nodes {
		selected[r.Nodes[i].Name] = &r.Nodes[i]
	}
	if o.AWSError != nil {
		r.Findings = append(r.Findings, awsFailed(o.AWSError))
		markAMILookupFailed(r.Nodes)
	} else if o.AWS != nil {
		progress("looking up AMIs in EC2 and SSM…")
		r.Findings = append(r.Findings, enrichFromAWS(ctx, o.AWS, r.Nodes)...)
	}
	r.Groups = inventory.GroupNodes(r.Nodes)
	r.Findings = append(r.Findings, skew.Check(r.ServerVersion, r.Nodes)...)

	uses := map[string]*usage{}
	imageSecrets := map[string]map[string]bool{}
	addSecrets := func(img string, secrets []string) {
		set := imageSecrets[img]
		if set == nil {
			set = map[string]bool{}
			imageSecrets[img] = set
		}
		for _, s := range secrets {
			set[s] = true
		}
	}
	var pending []pendingUse
	if o.Sections[SectionImages] || o.Sections[SectionFindings] {
		progress("listing pods…")
		err = pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return o.Client.CoreV1().Pods(o.Namespace).List(ctx, opts)
		}).EachListItemWithAlloc(ctx, metav1.ListOptions{Limit: o.PageSize}, func(obj runtime.Object) error {
			p := obj.(*corev1.Pod)
			podName := p.Namespace + "/" + p.Name
			if p.Spec.NodeName != "" {
				if selected[p.Spec.NodeName] == nil {
					return nil
				}
				for _, img := range podImages(p) {
					addSecrets(img, secretsOf(p))
					u := uses[img]
					if u == nil {
						u = &usage{nodes: map[string][]string{}, podsOn: map[string]int{}}
						uses[img] = u
					}
					u.pods++
					u.podsOn[p.Spec.NodeName]++
					if len(u.podNames) < 20 {
						u.podNames = append(u.podNames, podName)
					}
					if on := u.nodes[p.Spec.NodeName]; len(on) < 5 {
						u.nodes[p.Spec.NodeName] = append(on, podName)
					}
				}
				return nil
			}
			if p.Status.Phase != corev1.PodPending || p.Spec.NodeSelector["kubernetes.io/os"] != "windows" {
				return nil
			}
			sel := labels.SelectorFromSet(p.Spec.NodeSelector)
			var candidates []string
			for name, l := range nodeLabels {
				if sel.Matches(l) {
					candidates = append(candidates, name)
				}
			}
			sort.Strings(candidates)
			for _, img := range podImages(p) {
				addSecrets(img, secretsOf(p))
				pending = append(pending, pendingUse{pod: podName, image: img, candidates: candidates})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list pods: %w", err)
		}
	}

	if o.Sections[SectionPulls] {
		progress("reading kubelet Pulled events…")
		r.Pulls, err = pullStats(ctx, o, selected)
		if apierrors.IsForbidden(err) {
			r.Skipped = append(r.Skipped, "pulls: events are forbidden to you ("+err.Error()+"); grant list on events to see observed pull times")
		} else if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
	}

	if o.Sections[SectionImages] || o.Sections[SectionFindings] {
		if o.Resolver == nil {
			r.Skipped = append(r.Skipped, "registry: --no-registry; image sizes and OS-build compatibility were not checked")
		} else if o.Resolver.Keychain == nil {
			kc, err := newKeychains(ctx, o.Client, imageSecrets)
			if err != nil {
				return nil, err
			}
			o.Resolver.Keychain = kc.For
			r.Skipped = append(r.Skipped, kc.notes...)
		}
		imageReports(ctx, o, r, uses, pending, selected)
	}
	finding.Sort(r.Findings)
	r.Summary = Summary{Nodes: len(r.Nodes), Images: len(r.Images)}
	for _, f := range r.Findings {
		switch f.Severity {
		case finding.Error:
			r.Summary.Errors++
		case finding.Warning:
			r.Summary.Warnings++
		case finding.Info:
			r.Summary.Infos++
		}
	}
	return r, nil
}

func podImages(p *corev1.Pod) []string {
	seen := map[string]bool{}
	var out []string
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			if !seen[c.Image] {
				seen[c.Image] = true
				out = append(out, c.Image)
			}
		}
	}
	return out
}

func pullStats(ctx context.Context, o Options, selected map[string]*inventory.Node) ([]pulltime.Stat, error) {
	var pulls []pulltime.Pull
	err := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		opts.FieldSelector = "reason=Pulled"
		return o.Client.CoreV1().Events(o.Namespace).List(ctx, opts)
	}).EachListItemWithAlloc(ctx, metav1.ListOptions{Limit: o.PageSize}, func(obj runtime.Object) error {
		e := obj.(*corev1.Event)
		if selected[e.Source.Host] == nil {
			return nil
		}
		p, ok := pulltime.Parse(e.Message)
		if !ok {
			return nil
		}
		p.Node = e.Source.Host
		for i := int32(1); i < max(e.Count, 1); i++ {
			pulls = append(pulls, p)
		}
		pulls = append(pulls, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pulltime.Summarize(pulls), nil
}

func hostOf(n *inventory.Node) ocispec.Platform {
	return osbuild.HostPlatform(n.OS, n.Arch, n.OSVersion)
}

func imageReports(ctx context.Context, o Options, r *Report, uses map[string]*usage, pending []pendingUse, selected map[string]*inventory.Node) {
	refs := make([]string, 0, len(uses))
	for ref := range uses {
		refs = append(refs, ref)
	}
	for _, p := range pending {
		if uses[p.image] == nil {
			refs = append(refs, p.image)
		}
	}
	sort.Strings(refs)
	var resolved map[string]*imagesize.Image
	if o.Resolver != nil {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "resolving %d images in the registry…\n", len(refs))
		}
		resolved = o.Resolver.ResolveAll(ctx, refs)
	}

	type incompat struct {
		nodes, pods map[string]bool
		available   []string
	}
	incompatible := map[string]*incompat{}
	flag := func(ref string, hostVersion string, node string, pods []string, img *imagesize.Image) {
		key := ref + "\x00" + hostVersion
		ic := incompatible[key]
		if ic == nil {
			ic = &incompat{nodes: map[string]bool{}, pods: map[string]bool{}, available: img.OSVersions()}
			incompatible[key] = ic
		}
		if node != "" {
			ic.nodes[node] = true
		}
		for _, p := range pods {
			ic.pods[p] = true
		}
	}
	if o.Resolver != nil {
		var wants []imagesize.Want
		for ref, u := range uses {
			seen := map[string]bool{}
			for name := range u.nodes {
				n := selected[name]
				if key := n.OS + "/" + n.OSVersion; !seen[key] {
					seen[key] = true
					wants = append(wants, imagesize.Want{Image: resolved[ref], Host: hostOf(n)})
				}
			}
		}
		for _, p := range pending {
			for _, name := range p.candidates {
				wants = append(wants, imagesize.Want{Image: resolved[p.image], Host: hostOf(selected[name])})
			}
		}
		o.Resolver.Prefetch(ctx, wants)
	}
	layerOwners := map[string]map[string]bool{}
	var images []Image
	// entries[i][j] is the manifest behind images[i].Platforms[j], kept for
	// the shared-bytes pass.
	var entries [][]imagesize.Manifest
	for _, ref := range refs {
		u := uses[ref]
		if u == nil {
			continue
		}
		img := Image{Ref: ref, Pods: u.pods, PodNames: u.podNames, Nodes: len(u.nodes)}
		var found []imagesize.Manifest
		versions := map[string]*inventory.Node{}
		for name := range u.nodes {
			n := selected[name]
			if hasImage(n, ref) {
				img.CachedOn++
				if s := n.Images[ref]; s > img.OnNodeBytes {
					img.OnNodeBytes = s
				}
			}
			versions[n.OS+"/"+n.OSVersion] = n
		}
		if res := resolved[ref]; res != nil {
			img.Digest = res.Digest
			if res.Err != nil {
				img.Error = res.Err.Error()
			}
			for _, key := range slices.Sorted(maps.Keys(versions)) {
				n := versions[key]
				m, ok, err := o.Resolver.For(ctx, res, hostOf(n))
				if err != nil {
					if img.Error == "" {
						img.Error = err.Error()
					}
					continue
				}
				ps := PlatformSize{NodeOSVersion: nodeVersion(n), Runnable: ok}
				for name, count := range u.podsOn {
					if sn := selected[name]; sn.OS == n.OS && sn.OSVersion == n.OSVersion {
						ps.Pods += count
					}
				}
				if ok {
					ps.EntryOSVersion, ps.Digest, ps.Size, ps.Layers, ps.ForeignLayers = m.OSVersion, m.Digest, m.Size, m.Layers, m.ForeignLayers
					for _, d := range m.LayerDigests {
						if layerOwners[d] == nil {
							layerOwners[d] = map[string]bool{}
						}
						layerOwners[d][ref] = true
					}
				} else {
					for name, pods := range u.nodes {
						if sn := selected[name]; sn.OS == n.OS && sn.OSVersion == n.OSVersion {
							flag(ref, nodeVersion(n), name, pods, res)
						}
					}
				}
				img.Platforms = append(img.Platforms, ps)
				found = append(found, m)
			}
		}
		images = append(images, img)
		entries = append(entries, found)
	}
	// Shared bytes need every image's layers, so they come second.
	for i := range images {
		for j := range images[i].Platforms {
			ps, m := &images[i].Platforms[j], entries[i][j]
			for k, d := range m.LayerDigests {
				if len(layerOwners[d]) > 1 {
					ps.SharedBytes += m.LayerSizes[k]
				}
			}
		}
		if images[i].Error != "" {
			r.Findings = append(r.Findings, finding.Finding{
				Code: ImageLookupFailed, Severity: finding.Warning, Images: []string{images[i].Ref},
				Message: fmt.Sprintf("registry lookup of %s failed: %s", images[i].Ref, images[i].Error),
				Fix:     "check the reference and the pull secrets / registry credentials the audit runs with",
			})
		}
	}
	for _, p := range pending {
		res := resolved[p.image]
		if res == nil || res.Err != nil {
			continue
		}
		for _, name := range p.candidates {
			n := selected[name]
			if _, ok, err := o.Resolver.For(ctx, res, hostOf(n)); err == nil && !ok {
				flag(p.image, nodeVersion(n), name, []string{p.pod}, res)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(incompatible)) {
		ic := incompatible[key]
		ref, hostVersion, _ := strings.Cut(key, "\x00")
		r.Findings = append(r.Findings, finding.Finding{
			Code: ImageOSIncompatible, Severity: finding.Error,
			Nodes: slices.Sorted(maps.Keys(ic.nodes)), Pods: slices.Sorted(maps.Keys(ic.pods)), Images: []string{ref},
			Message: fmt.Sprintf("%s has no entry that runs on Windows %s under process isolation (it offers %s)", ref, hostVersion, orNone(ic.available)),
			Fix:     "build and push the image for this Windows build (a multi-platform index), or pin the pods to nodes of a build it has",
		})
	}
	r.Images = images
}

func hasImage(n *inventory.Node, ref string) bool {
	_, ok := n.Images[ref]
	return ok
}

func nodeVersion(n *inventory.Node) string {
	if n.OS == "windows" {
		return n.OSVersion
	}
	return n.OS + "/" + n.Arch
}

func orNone(v []string) string {
	if len(v) == 0 {
		return "no Windows entry"
	}
	return strings.Join(v, ", ")
}
