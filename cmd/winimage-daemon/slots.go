package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// slotPool paces pulls cluster-wide: size Leases, each held by at most one
// node through client-go's leader election, so at most size nodes pull at
// once. A holder that dies loses its Lease when it expires.
type slotPool struct {
	client            kubernetes.Interface
	namespace, prefix string
	size              int
	identity          string
	log               *slog.Logger
}

// Acquire blocks until this node holds one slot; release gives it back.
func (s *slotPool) Acquire(ctx context.Context) (func(), error) {
	won := make(chan int, s.size)
	cancels := make([]context.CancelFunc, s.size)
	stopped := make([]chan struct{}, s.size)
	for i := 0; i < s.size; i++ {
		slotCtx, cancel := context.WithCancel(ctx)
		cancels[i], stopped[i] = cancel, make(chan struct{})
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metaFor(s.namespace, fmt.Sprintf("%s-%d", s.prefix, i)),
			Client:     s.client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: s.identity},
		}
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 1 * time.Second,
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
		s.log.Info("holding pull slot", "lease", fmt.Sprintf("%s-%d", s.prefix, slot))
		return func() {
			cancels[slot]()
			<-stopped[slot]
			s.log.Info("released pull slot", "lease", fmt.Sprintf("%s-%d", s.prefix, slot))
		}, nil
	}
}

func metaFor(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}
