package audit

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
	"github.com/winimage-io/kubectl-winimage/plugin/startup"
)

// DefaultSince is how far back the startup section looks by default: older
// nodes and pods have long lost their events.
const DefaultSince = 7 * 24 * time.Hour

// startupSection measures node boots and pod starts on the selected nodes
// and adds its findings.
func startupSection(ctx context.Context, o Options, r *Report, c *collection) {
	since := o.Since
	if since == 0 {
		since = DefaultSince
	}
	in := startup.Input{Since: time.Now().Add(-since), Nodes: map[string]startup.Node{}, Pods: c.startPods,
		Events: c.imageEvents, EventsUnread: c.eventsForbidden, BakedAMIs: bakedAMIs(o, r)}
	for _, n := range r.Nodes {
		in.Nodes[n.Name] = startup.Node{Name: n.Name, Group: n.Group, Build: n.Build, AMI: n.AMI, Created: n.Created, Ready: n.ReadyAt}
	}
	in.WarmList, in.WarmListChanged = warmList(ctx, o, r)
	s := startup.Build(in)
	r.Startup = &s
	r.Findings = append(r.Findings, startup.Findings(s)...)
}

// warmList reads warm's image list and when it last changed; a cluster
// without one, or a user who may not read it, gets no before/after split.
func warmList(ctx context.Context, o Options, r *Report) ([]string, time.Time) {
	ns := o.WarmNamespace
	if ns == "" {
		return nil, time.Time{}
	}
	cm, err := o.Client.CoreV1().ConfigMaps(ns).Get(ctx, contract.ConfigMapName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, time.Time{}
	case err != nil:
		r.Skipped = append(r.Skipped, "startup: warm's image list not read ("+err.Error()+"); no before/after split for it")
		return nil, time.Time{}
	}
	return imagelist.Wanted(cm), imagelist.ChangedAt(cm)
}
