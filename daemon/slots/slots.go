// Package slots paces pulls cluster-wide: a pool of Leases, each held by
// at most one node, so at most the pool's size of nodes pull at once.
package slots

import (
	"context"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// Pool is Size Leases named Prefix-0…Prefix-(Size-1), each held by at most
// one node through client-go's leader election. A holder that dies (or is
// stopped without a chance to release, as Windows pods are) loses its Lease
// when it expires, and another node takes it over.
type Pool struct {
	Client            kubernetes.Interface
	Namespace, Prefix string
	Size              int
	Identity          string
	Log               *slog.Logger
	// LeaseDuration is how long a dead holder keeps a slot (default 15 s).
	LeaseDuration time.Duration
}

// Acquire blocks until this node holds one slot; release gives it back.
func (s *Pool) Acquire(ctx context.Context) (func(), error) {
	lease := s.LeaseDuration
	if lease <= 0 {
		lease = 15 * time.Second
	}
	won := make(chan int, s.Size)
	cancels := make([]context.CancelFunc, s.Size)
	stopped := make([]chan struct{}, s.Size)
	for i := 0; i < s.Size; i++ {
		slotCtx, cancel := context.WithCancel(ctx)
		cancels[i], stopped[i] = cancel, make(chan struct{})
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metaFor(s.Namespace, contract.SlotLease(s.Prefix, i)),
			Client:     s.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: s.Identity},
		}
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: lease, RenewDeadline: lease * 2 / 3, RetryPeriod: max(lease/15, 100*time.Millisecond),
			ReleaseOnCancel: true, Name: lock.LeaseMeta.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) { won <- i },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			cancel()
			return nil, err
		}
		go func() { elector.Run(slotCtx); close(stopped[i]) }()
	}
	select {
	case <-ctx.Done():
		for i := range cancels {
			cancels[i]()
			<-stopped[i]
		}
		return nil, ctx.Err()
	case slot := <-won:
		// Give back every other slot, including any won in the same moment.
		for i := range cancels {
			if i != slot {
				cancels[i]()
				<-stopped[i]
			}
		}
		s.Log.Info("holding pull slot", "lease", contract.SlotLease(s.Prefix, slot))
		return func() {
			cancels[slot]()
			<-stopped[slot]
			s.Log.Info("released pull slot", "lease", contract.SlotLease(s.Prefix, slot))
		}, nil
	}
}

func metaFor(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}
