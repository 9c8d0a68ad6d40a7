package slots

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// pool is a one-slot pool for identity whose watch ends with the test.
func pool(t *testing.T, client *fake.Clientset, identity string) *Pool {
	p := &Pool{Client: client, Namespace: "ns", Prefix: "slot", Size: 1, Identity: identity,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), LeaseDuration: time.Second, HerdSpread: 100 * time.Millisecond}
	t.Cleanup(p.Idle)
	return p
}

func TestASecondNodeWaitsUntilTheFirstReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		releaseA, err := pool(t, client, "node-a").Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gotB := make(chan func(), 1)
		go func() {
			release, err := pool(t, client, "node-b").Acquire(ctx)
			if err == nil {
				gotB <- release
			}
		}()
		select {
		case <-gotB:
			t.Fatal("node-b got the only slot while node-a held it")
		case <-time.After(1500 * time.Millisecond):
		}
		releaseA()
		select {
		case release := <-gotB:
			release()
		case <-ctx.Done():
			t.Fatal("node-b never got the slot node-a released")
		}
	})
}

func TestASlotOfAHolderThatDiedIsTakenOverWhenItExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A Windows pod can be stopped without a signal: its daemon never
		// releases. The Lease it held must still free up.
		renewed := metav1.NewMicroTime(time.Now())
		holder, duration := "dead-node", int32(1)
		client := fake.NewClientset(&coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "slot-0"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration, AcquireTime: &renewed, RenewTime: &renewed},
		})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		start := time.Now()
		release, err := pool(t, client, "node-b").Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if waited := time.Since(start); waited < 900*time.Millisecond {
			t.Fatalf("took a live holder's slot after %s", waited)
		}
		lease, err := client.CoordinationV1().Leases("ns").Get(ctx, "slot-0", metav1.GetOptions{})
		if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "node-b" {
			t.Fatalf("lease after takeover: %+v, %v", lease, err)
		}
	})
}

func TestAcquireGivesUpWhenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset()
		ctx, cancel := context.WithCancel(t.Context())
		releaseA, err := pool(t, client, "node-a").Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer releaseA()
		done := make(chan error, 1)
		go func() { _, err := pool(t, client, "node-b").Acquire(ctx); done <- err }()
		time.Sleep(200 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("Acquire returned a slot after cancel")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Acquire did not return after cancel")
		}
	})
}

// A node waiting for a slot costs the API server a list and a watch, not
// requests on a timer: ten seconds of waiting while two other nodes hold
// both slots send nothing more.
func TestAWaitingNodeSendsNothingWhileItWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := metav1.NewMicroTime(time.Now())
		hour := int32(3600)
		var held []runtime.Object
		for i, node := range []string{"node-a", "node-c"} {
			held = append(held, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("slot-%d", i)},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: &hour, AcquireTime: &live, RenewTime: &live}})
		}
		client := fake.NewClientset(held...)
		p := pool(t, client, "node-b")
		p.Size, p.LeaseDuration = 2, 3*time.Second
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := p.Acquire(ctx); err == nil {
			t.Fatal("got a slot two live holders have")
		}
		var verbs []string
		for _, a := range client.Actions() {
			verbs = append(verbs, a.GetVerb())
		}
		if len(verbs) > 2 {
			t.Errorf("10 s of waiting sent %d requests (%v), want a list and a watch", len(verbs), verbs)
		}
	})
}

// The watch serves every pull of a pass: two slots taken in turn cost one
// list and one watch; Idle ends it.
func TestOneWatchServesAPassOfPulls(t *testing.T) {
	client := fake.NewClientset()
	p := pool(t, client, "node-a")
	ctx := t.Context()
	for range 2 {
		release, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	p.Idle()
	lists, watches := 0, 0
	for _, a := range client.Actions() {
		switch a.GetVerb() {
		case "list":
			lists++
		case "watch":
			watches++
		}
	}
	if lists != 1 || watches != 1 {
		t.Errorf("%d lists and %d watches for two pulls of a pass, want one each", lists, watches)
	}
}

// A daemon killed while holding a slot comes back under the same node
// name: the slot it could not give back is its own, not an hour away.
func TestANodeTakesBackTheSlotItsKilledDaemonHeld(t *testing.T) {
	live := metav1.NewMicroTime(time.Now())
	node, hour := "node-b", int32(3600)
	client := fake.NewClientset(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "slot-0"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: &hour, AcquireTime: &live, RenewTime: &live}})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	release, err := pool(t, client, node).Acquire(ctx)
	if err != nil {
		t.Fatalf("the node's own slot: %v", err)
	}
	release()
}

// A release that meets a conflict (a renewal it cut short reached the API
// server anyway) reads the Lease again and still gives it back.
func TestAReleaseThatMeetsAConflictStillGivesTheSlotBack(t *testing.T) {
	client := fake.NewClientset()
	p := pool(t, client, "node-a")
	release, err := p.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	conflicted := false
	client.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		lease := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if !conflicted && holder(lease) == "" {
			conflicted = true
			return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), lease.Name, errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	release()
	l, err := client.CoordinationV1().Leases("ns").Get(t.Context(), "slot-0", metav1.GetOptions{})
	if err != nil || !conflicted || holder(l) != "" {
		t.Errorf("after a release that met a conflict: holder %q (conflict seen %v, %v)", holder(l), conflicted, err)
	}
}
