package warm

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
)

// Follow keeps the status current from three watches (the selected nodes,
// the daemon pods, the image list) and calls update with a fresh report
// after each burst of changes, until update returns true or ctx ends. It
// never polls nodes: the daemons publish their progress on their pods.
func Follow(ctx context.Context, client kubernetes.Interface, namespace, nodeSelector string, update func(*StatusReport) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = nodeSelector }))
	podFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = DaemonPodSelector }))
	cmFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", contract.ConfigMapName).String()
		}))
	nodes, pods, cms := nodeFactory.Core().V1().Nodes(), podFactory.Core().V1().Pods(), cmFactory.Core().V1().ConfigMaps()

	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: poke, DeleteFunc: poke, UpdateFunc: func(_, n any) { poke(n) }}
	for _, inf := range []cache.SharedIndexInformer{nodes.Informer(), pods.Informer(), cms.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	for _, f := range []informers.SharedInformerFactory{nodeFactory, podFactory, cmFactory} {
		f.Start(ctx.Done())
	}
	defer func() {
		cancel()
		for _, f := range []informers.SharedInformerFactory{nodeFactory, podFactory, cmFactory} {
			f.Shutdown()
		}
	}()
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced, pods.Informer().HasSynced, cms.Informer().HasSynced) {
		return ctx.Err()
	}

	snapshot := func() (*StatusReport, error) {
		nodeList, err := nodes.Lister().List(labels.Everything())
		if err != nil {
			return nil, err
		}
		podList, err := pods.Lister().Pods(namespace).List(labels.Everything())
		if err != nil {
			return nil, err
		}
		var want []string
		if cm, err := cms.Lister().ConfigMaps(namespace).Get(contract.ConfigMapName); err == nil {
			want = imagelist.Wanted(cm)
		}
		return Assemble(namespace, nodeList, podList, want, time.Now()), nil
	}
	for {
		r, err := snapshot()
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if update(r) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
			// Coalesce bursts: every daemon publishes at most every 2 s.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// Settled reports whether every selected node has finished with the
// current list, ready or failed, and at least one node is selected.
func (r *StatusReport) Settled() bool {
	return r.Summary.Nodes > 0 && r.Summary.Ready+r.Summary.Failed == r.Summary.Nodes
}

// NodeSelector is the label selector of the nodes a DaemonSet for os with
// the extra nodeSelector labels covers.
func NodeSelector(os string, extra map[string]string) string {
	set := labels.Set{}
	for k, v := range extra {
		set[k] = v
	}
	set["kubernetes.io/os"] = os
	return set.String()
}
