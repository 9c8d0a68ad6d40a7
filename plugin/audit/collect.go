package audit

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"

	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/pulltime"
	"github.com/winimage-io/kubectl-winimage/plugin/startup"
)

// collection is what the audit gathered from the API server: the selected
// nodes, which images their pods use, and the Pending Windows pods with the
// nodes they could land on.
type collection struct {
	selected   map[string]*inventory.Node
	nodeLabels map[string]labels.Set
	uses       map[string]*usage
	pending    []pendingUse
	// imageSecrets are the pull secrets (namespace/name) of the pods using
	// each image.
	imageSecrets map[string]map[string]bool
	// ahead starts registry lookups as images are found; nil without a
	// registry.
	ahead *registryAhead
	// For the startup section: each scheduled pod's start on a selected
	// node and kubelet's image events there (node boots come from r.Nodes).
	startPods       []startup.Pod
	imageEvents     []startup.ImageEvent
	eventsForbidden bool
	reader          *startup.Reader
}

func (c *collection) startupReader() *startup.Reader {
	if c.reader == nil {
		c.reader = startup.NewReader()
	}
	return c.reader
}

type usage struct {
	pods     int
	podNames []string
	// nodes maps each node running the image to up to 5 of its pods there.
	nodes map[string][]string
	// podsOn counts the pods using the image on each node.
	podsOn map[string]int
}

type pendingUse struct {
	pod        string
	image      string
	candidates []string
}

func (c *collection) listNodes(ctx context.Context, o Options, r *Report) error {
	o.progress("listing nodes (%s)…", o.NodeSelector)
	c.selected, c.nodeLabels = map[string]*inventory.Node{}, map[string]labels.Set{}
	err := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		opts.LabelSelector = o.NodeSelector
		return o.Client.CoreV1().Nodes().List(ctx, opts)
	}).EachListItemWithAlloc(ctx, metav1.ListOptions{Limit: o.PageSize}, func(obj runtime.Object) error {
		n := obj.(*corev1.Node)
		r.Nodes = append(r.Nodes, inventory.FromNode(n))
		r.Nodes[len(r.Nodes)-1].ReadyAt = startup.NodeReady(n)
		c.nodeLabels[n.Name] = labels.Set(n.Labels)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	sort.Slice(r.Nodes, func(i, j int) bool { return r.Nodes[i].Name < r.Nodes[j].Name })
	for i := range r.Nodes {
		c.selected[r.Nodes[i].Name] = &r.Nodes[i]
	}
	return nil
}

func (c *collection) listPods(ctx context.Context, o Options) error {
	o.progress("listing pods…")
	c.uses, c.imageSecrets = map[string]*usage{}, map[string]map[string]bool{}
	err := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return o.Client.CoreV1().Pods(o.Namespace).List(ctx, opts)
	}).EachListItemWithAlloc(ctx, metav1.ListOptions{Limit: o.PageSize}, func(obj runtime.Object) error {
		p := obj.(*corev1.Pod)
		if o.Sections[SectionStartup] && c.selected[p.Spec.NodeName] != nil {
			if sp, ok := c.startupReader().Pod(p); ok {
				c.startPods = append(c.startPods, sp)
			}
		}
		if !o.Sections[SectionImages] && !o.Sections[SectionFindings] {
			return nil
		}
		if p.Spec.NodeName != "" {
			c.addScheduled(p)
		} else {
			c.addPending(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	return nil
}

// addScheduled counts a pod on a selected node against each of its images.
func (c *collection) addScheduled(p *corev1.Pod) {
	if c.selected[p.Spec.NodeName] == nil {
		return
	}
	podName := p.Namespace + "/" + p.Name
	for _, img := range podImages(p) {
		c.addSecrets(img, p)
		u := c.uses[img]
		if u == nil {
			u = &usage{nodes: map[string][]string{}, podsOn: map[string]int{}}
			c.uses[img] = u
			c.ahead.image(img, c.imageSecrets[img])
		}
		u.pods++
		if u.podsOn[p.Spec.NodeName]++; u.podsOn[p.Spec.NodeName] == 1 {
			c.ahead.host(img, c.selected[p.Spec.NodeName])
		}
		if len(u.podNames) < 20 {
			u.podNames = append(u.podNames, podName)
		}
		if on := u.nodes[p.Spec.NodeName]; len(on) < 5 {
			u.nodes[p.Spec.NodeName] = append(on, podName)
		}
	}
}

// addPending keeps a Pending Windows pod with the selected nodes its node
// selector allows, for the compatibility check.
func (c *collection) addPending(p *corev1.Pod) {
	if p.Status.Phase != corev1.PodPending || p.Spec.NodeSelector["kubernetes.io/os"] != "windows" {
		return
	}
	sel := labels.SelectorFromSet(p.Spec.NodeSelector)
	var candidates []string
	for name, l := range c.nodeLabels {
		if sel.Matches(l) {
			candidates = append(candidates, name)
		}
	}
	sort.Strings(candidates)
	for _, img := range podImages(p) {
		c.addSecrets(img, p)
		if c.uses[img] == nil {
			c.ahead.image(img, c.imageSecrets[img])
		}
		c.pending = append(c.pending, pendingUse{pod: p.Namespace + "/" + p.Name, image: img, candidates: candidates})
	}
}

func (c *collection) addSecrets(img string, p *corev1.Pod) {
	set := c.imageSecrets[img]
	if set == nil {
		set = map[string]bool{}
		c.imageSecrets[img] = set
	}
	for _, s := range p.Spec.ImagePullSecrets {
		set[p.Namespace+"/"+s.Name] = true
	}
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

// readPulledEvents pages through kubelet's Pulled events once, for the
// pulls section (pull times per image) and the startup section (each pod's
// pulls and warm hits).
func (c *collection) readPulledEvents(ctx context.Context, o Options, r *Report) error {
	o.progress("reading kubelet Pulled events…")
	var pulls []pulltime.Pull
	err := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		opts.FieldSelector = "reason=Pulled"
		return o.Client.CoreV1().Events(o.Namespace).List(ctx, opts)
	}).EachListItemWithAlloc(ctx, metav1.ListOptions{Limit: o.PageSize}, func(obj runtime.Object) error {
		e := obj.(*corev1.Event)
		if c.selected[e.Source.Host] == nil {
			return nil
		}
		if o.Sections[SectionStartup] {
			if ie, ok := c.startupReader().Event(e); ok {
				c.imageEvents = append(c.imageEvents, ie)
			}
		}
		p, ok := pulltime.Parse(e.Message)
		if !ok || !o.Sections[SectionPulls] {
			return nil
		}
		p.Node, p.Count = e.Source.Host, pulltime.Occurrences(e.Count)
		pulls = append(pulls, p)
		return nil
	})
	if apierrors.IsForbidden(err) {
		r.Skipped = append(r.Skipped, "pulls: events are forbidden to you ("+err.Error()+"); grant list on events to see observed pull times and how pod starts split into pulling and the rest")
		c.eventsForbidden = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	r.Pulls = pulltime.Summarize(pulls)
	return nil
}
