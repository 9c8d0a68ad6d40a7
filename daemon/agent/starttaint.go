package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/taint"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// The startup taint keeps workloads off a new node until its images are
// warm. It must never keep them off for good: the daemon lifts it after
// the first pass that ends, whether every image is warm or the rest ended
// Failed or Skipped (warm did what it could; pods pull those themselves),
// and at the latest StartupTaintTimeout after the node joined, even while
// a pass still runs (waiting for a pull slot, or a slow registry). Each
// lift that leaves images cold says why in an Event on the node and a
// warning in the progress `warm status` shows.

// passEnded lifts the taint after a pass that ran to its end.
func (a *agent) passEnded(ctx context.Context, snap contract.Snapshot) {
	if snap.AllReady() {
		a.liftStartupTaint(ctx, corev1.EventTypeNormal, fmt.Sprintf("all %d images warm; startup taint %s lifted", snap.Total, a.cfg.StartupTaint))
		return
	}
	a.liftStartupTaint(ctx, corev1.EventTypeWarning, fmt.Sprintf("startup taint %s lifted with %d of %d images not warm (%s): pods pull them themselves",
		a.cfg.StartupTaint, snap.Total-snap.Ready, snap.Total, notWarm(snap)))
}

// startupTaintDeadline lifts the taint at joined+StartupTaintTimeout if no
// pass has ended by then; at once if that time has passed (a daemon that
// started late, or restarted).
func (a *agent) startupTaintDeadline(ctx context.Context, joined time.Time) {
	if a.cfg.StartupTaint == "" || a.cfg.StartupTaintTimeout <= 0 {
		return
	}
	wait := time.Until(joined.Add(a.cfg.StartupTaintTimeout))
	select {
	case <-ctx.Done():
		return
	case <-time.After(max(wait, 0)):
	}
	snap := a.warmer.Snapshot()
	a.liftStartupTaint(ctx, corev1.EventTypeWarning, fmt.Sprintf("startup taint %s lifted %s after the node joined with %d of %d images not warm yet (%s); warming goes on",
		a.cfg.StartupTaint, a.cfg.StartupTaintTimeout, snap.Total-snap.Ready, snap.Total, notWarm(snap)))
}

// liftStartupTaint removes the taint the first time it is called with the
// taint still there, and records why.
func (a *agent) liftStartupTaint(ctx context.Context, eventType, why string) {
	if a.cfg.StartupTaint == "" {
		return
	}
	a.taintMu.Lock()
	defer a.taintMu.Unlock()
	if a.taintLifted {
		return
	}
	removed, err := taint.Remove(ctx, a.kube, a.cfg.Node, a.cfg.StartupTaint)
	if err != nil {
		a.log.Error("remove startup taint", "taint", a.cfg.StartupTaint, "err", err)
		return
	}
	a.taintLifted = true
	if !removed {
		return // lifted before: by an earlier daemon on this node, or by hand
	}
	a.log.Info("startup taint lifted", "why", why)
	if eventType == corev1.EventTypeWarning {
		a.addWarning(why)
	}
	if err := report.NodeEvent(ctx, a.kube, a.cfg.Node, eventType, "StartupTaintLifted", why); err != nil {
		a.log.Error("node event", "err", err)
	}
}

// notWarm names up to three images that are not Ready, with their state.
func notWarm(snap contract.Snapshot) string {
	var names []string
	for _, img := range snap.Images {
		if img.State == contract.Ready {
			continue
		}
		if len(names) == 3 {
			names = append(names, "…")
			break
		}
		names = append(names, img.Ref+" "+string(img.State))
	}
	return strings.Join(names, ", ")
}
