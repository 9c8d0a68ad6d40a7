package noderuntime

import (
	"context"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
)

// LabelPullLease marks the leases the daemon's pulls hold, with the pod
// that holds them as its value (for whoever reads the node's leases).
const LabelPullLease = "winimage.io/pull-lease"

// pullLeaseExpiry is the client's own (containerd v2.4.2 client/lease.go
// WithLease): a lease protects what a pull has fetched from garbage
// collection until the pull records the image, or until it expires.
const pullLeaseExpiry = 24 * time.Hour

// withPullLease gives a pull a lease of the daemon's own, labelled, which
// the client and the Transfer service then use instead of making one
// (both keep a lease already in the context: v2.4.2 client/lease.go,
// core/transfer/local/transfer.go withLease). A daemon killed mid-pull
// leaves the lease behind for a day, holding a half-fetched image's
// content; its label lets the next daemon find it, resume from what it
// holds, and release it (LeftoverLeases).
func (c *Containerd) withPullLease(ctx context.Context) (context.Context, func(), error) {
	ls := c.Client.LeasesService()
	l, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(pullLeaseExpiry),
		leases.WithLabels(map[string]string{LabelPullLease: c.Owner}))
	if err != nil {
		return ctx, func() {}, err
	}
	return leases.WithLease(ctx, l.ID), func() {
		// The pull's own context may be cancelled; the lease goes anyway.
		_ = ls.Delete(context.WithoutCancel(ctx), l)
	}, nil
}

// LeftoverLeases lists the pull leases daemons left on the node: a node
// runs one daemon at a time (the DaemonSet replaces a pod only once the old
// one is gone, and a container restarted in its pod is a new process), so
// each belongs to a daemon stopped mid-pull. Keep them until this daemon's
// first pass has ended: they hold the half-fetched layers its pulls resume
// (releasing them at start let garbage collection delete those, and the
// next pod fetched every byte again), then ReleaseLeases.
func (c *Containerd) LeftoverLeases(ctx context.Context) ([]leases.Lease, error) {
	all, err := c.Client.LeasesService().List(ctx)
	if err != nil {
		return nil, err
	}
	var left []leases.Lease
	for _, l := range all {
		if _, ours := l.Labels[LabelPullLease]; ours {
			left = append(left, l)
		}
	}
	return left, nil
}

// ReleaseLeases deletes ls and returns the IDs it deleted.
func (c *Containerd) ReleaseLeases(ctx context.Context, ls []leases.Lease) ([]string, error) {
	var released []string
	for _, l := range ls {
		if err := c.Client.LeasesService().Delete(ctx, l); err != nil && !errdefs.IsNotFound(err) {
			return released, err
		}
		released = append(released, l.ID)
	}
	return released, nil
}
