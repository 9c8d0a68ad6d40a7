// Package slots paces pulls cluster-wide: a pool of Leases, each held by
// at most one node, so at most the pool's size of nodes pull at once.
package slots

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// Pool is Size Leases named Prefix-0…Prefix-(Size-1), each held by at most
// one node. A node waiting for a slot costs the API server one list and
// one watch of the namespace's Leases: it tries for a slot only when the
// watch shows one free, or when a holder's Lease runs out (a holder that
// dies, or is stopped without a chance to release, as Windows pods are,
// stops renewing). A holder renews its Lease every third of its duration
// and gives it back when done.
//
// client-go's leader election (v0.37.2 tools/leaderelection) polls: each
// elector GETs its Lease every RetryPeriod, so a node waiting on Size
// slots sent Size requests a second; 1,000 waiting nodes, thousands.
type Pool struct {
	Client            kubernetes.Interface
	Namespace, Prefix string
	Size              int
	Identity          string
	Log               *slog.Logger
	// LeaseDuration is how long a dead holder keeps a slot (default 15 s).
	LeaseDuration time.Duration
	// HerdSpread spreads the nodes that see the same slot free: each waits
	// a random part of it and looks again before trying, so a release is
	// met by about one attempt, not one per waiting node (default 5 s).
	HerdSpread time.Duration

	mu       sync.Mutex
	watching *slotWatch
}

// slotWatch is the watch of the namespace's Leases, kept from the first
// Acquire until Idle: one list and one watch per pass, however many pulls
// the pass makes.
type slotWatch struct {
	informer cache.SharedIndexInformer
	seen     chan struct{}
	stop     context.CancelFunc
}

func (s *Pool) durations() (lease, spread time.Duration) {
	lease, spread = s.LeaseDuration, s.HerdSpread
	if lease <= 0 {
		lease = 15 * time.Second
	}
	if spread <= 0 {
		spread = 5 * time.Second
	}
	return lease, spread
}

// Acquire blocks until this node holds one slot; release gives it back.
func (s *Pool) Acquire(ctx context.Context) (func(), error) {
	lease, spread := s.durations()
	w, err := s.watch(ctx)
	if err != nil {
		return nil, err
	}
	informer, seen := w.informer, w.seen
	for {
		name, wait := s.freeSlot(informer.GetStore(), time.Now(), lease)
		if name != "" {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(rand.N(spread)):
			}
			// Another node may have taken it meanwhile: the watch says so.
			if again, _ := s.freeSlot(informer.GetStore(), time.Now(), lease); again == name {
				// A typed client returns an object with its error too.
				held, err := s.take(ctx, informer.GetStore(), name, lease)
				if err != nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
					s.Log.Warn("pull slot", "lease", name, "err", err)
				}
				if err == nil {
					s.Log.Info("holding pull slot", "lease", name)
					return s.hold(held, lease), nil
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-seen:
		case <-time.After(wait):
		}
	}
}

// watch starts the watch of the namespace's Leases, or returns the one
// running.
func (s *Pool) watch(ctx context.Context) (*slotWatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watching != nil {
		return s.watching, nil
	}
	leases := s.Client.CoordinationV1().Leases(s.Namespace)
	// The wrapper tells the reflector whether the client can stream the
	// initial list in the watch (client-go v0.37.2 tools/cache
	// listwatch.go ToListWatcherWithWatchListSemantics): a fake clientset
	// cannot, the API server can.
	informer := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return leases.List(ctx, o) },
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return leases.Watch(ctx, o)
		},
	}, s.Client), &coordinationv1.Lease{}, 0, cache.Indexers{})
	w := &slotWatch{informer: informer, seen: make(chan struct{}, 1)}
	poke := func(any) {
		select {
		case w.seen <- struct{}{}:
		default:
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke}); err != nil {
		return nil, err
	}
	watchCtx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go informer.RunWithContext(watchCtx)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		stop()
		return nil, ctx.Err()
	}
	s.watching = w
	return w, nil
}

// Idle ends the watch: the node has nothing to pull until its next pass,
// and a watch held open is a request renewed every few minutes.
func (s *Pool) Idle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watching != nil {
		s.watching.stop()
		s.watching = nil
	}
}

// freeSlot is the first slot no live holder has (never created, given
// back, or run out), or "" and how long until the first held one runs out.
func (s *Pool) freeSlot(store cache.Store, now time.Time, lease time.Duration) (string, time.Duration) {
	next := lease
	for i := 0; i < s.Size; i++ {
		name := contract.SlotLease(s.Prefix, i)
		obj, ok, _ := store.GetByKey(s.Namespace + "/" + name)
		if !ok {
			return name, 0
		}
		l := obj.(*coordinationv1.Lease)
		left := expiresIn(l, now)
		// A Lease under this node's own name is one its previous daemon
		// held and could not give back (it was killed): it is free.
		if h := holder(l); h == "" || h == s.Identity || left <= 0 {
			return name, 0
		}
		next = min(next, left)
	}
	return "", next
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// expiresIn is how long l's holder keeps it without renewing.
func expiresIn(l *coordinationv1.Lease, now time.Time) time.Duration {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return 0
	}
	return l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second).Sub(now)
}

// take writes this node as name's holder: a create when the Lease does not
// exist, else an update at the version the watch showed, so of the nodes
// that try at once exactly one wins (the others get a conflict).
func (s *Pool) take(ctx context.Context, store cache.Store, name string, lease time.Duration) (*coordinationv1.Lease, error) {
	leases := s.Client.CoordinationV1().Leases(s.Namespace)
	now := metav1.NewMicroTime(time.Now())
	seconds := int32(lease / time.Second)
	spec := coordinationv1.LeaseSpec{HolderIdentity: &s.Identity, LeaseDurationSeconds: &seconds, AcquireTime: &now, RenewTime: &now}
	obj, ok, _ := store.GetByKey(s.Namespace + "/" + name)
	if !ok {
		return leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: name}, Spec: spec}, metav1.CreateOptions{})
	}
	l := obj.(*coordinationv1.Lease).DeepCopy()
	transitions := int32(0)
	if l.Spec.LeaseTransitions != nil {
		transitions = *l.Spec.LeaseTransitions + 1
	}
	spec.LeaseTransitions = &transitions
	l.Spec = spec
	return leases.Update(ctx, l, metav1.UpdateOptions{})
}

// hold renews held every third of its duration until released, then gives
// it back (holder cleared). A renewal that fails for good (another node
// took the Lease after it ran out) ends the renewals.
func (s *Pool) hold(held *coordinationv1.Lease, lease time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	current := held
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(lease / 3):
			}
			l := current.DeepCopy()
			now := metav1.NewMicroTime(time.Now())
			l.Spec.RenewTime = &now
			renewed, err := s.Client.CoordinationV1().Leases(s.Namespace).Update(ctx, l, metav1.UpdateOptions{})
			switch {
			case err == nil:
				current = renewed
			case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
				s.Log.Warn("lost pull slot", "lease", held.Name, "err", err)
				return
			case !errors.Is(err, context.Canceled):
				s.Log.Warn("renew pull slot", "lease", held.Name, "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		l := current.DeepCopy()
		if holder(l) != s.Identity {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.release(ctx, l); err != nil {
			s.Log.Warn("release pull slot", "lease", held.Name, "err", err)
			return
		}
		s.Log.Info("released pull slot", "lease", held.Name)
	}
}

// release clears l's holder. A renewal cut short by the release may have
// reached the API server all the same, leaving l one version behind: on a
// conflict the Lease is read again and, if still this node's, cleared.
func (s *Pool) release(ctx context.Context, l *coordinationv1.Lease) error {
	leases := s.Client.CoordinationV1().Leases(s.Namespace)
	for attempt := 0; ; attempt++ {
		empty := ""
		l.Spec.HolderIdentity = &empty
		_, err := leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || attempt == 1 {
			return err
		}
		if l, err = leases.Get(ctx, l.Name, metav1.GetOptions{}); err != nil {
			return err
		}
		if holder(l) != s.Identity {
			return nil
		}
	}
}
