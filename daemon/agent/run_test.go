package agent

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime/runtimetest"
	"github.com/winimage-io/kubectl-winimage/daemon/pass"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// slowRuntime is containerd's image state (runtimetest.Store) with a Pull
// that takes delay, or until its context ends.
type slowRuntime struct {
	*runtimetest.Store
	mu    sync.Mutex
	pulls []string
	delay time.Duration
}

func newSlowRuntime(delay time.Duration) *slowRuntime {
	return &slowRuntime{Store: runtimetest.NewStore(), delay: delay}
}

func (r *slowRuntime) Pull(ctx context.Context, ref string, opts noderuntime.PullOptions) (noderuntime.ImageStatus, error) {
	if err := r.Start(ctx, ref); err != nil {
		return noderuntime.ImageStatus{}, err
	}
	select {
	case <-ctx.Done():
		return noderuntime.ImageStatus{}, ctx.Err()
	case <-time.After(r.delay):
	}
	r.mu.Lock()
	r.pulls = append(r.pulls, ref)
	r.mu.Unlock()
	return r.Finish(ref, opts), nil
}

type noPlan struct{}

func (noPlan) Plan(context.Context, string) (pass.Plan, error) { return pass.Plan{}, nil }

func (noPlan) Digest(context.Context, string) (string, error) { return "", nil }

func testAgent(t *testing.T, rt noderuntime.Runtime, taintKey string, node *corev1.Node) *agent {
	t.Helper()
	a := &agent{
		cfg:     Config{Identity: Identity{Node: node.Name}, RecheckInterval: time.Hour, StartupTaint: taintKey},
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		kube:    fake.NewClientset(node),
		changed: make(chan struct{}, 1),
		lists:   make(chan *imagelist.List, 1),
		planner: func() pass.Planner { return noPlan{} },
	}
	a.warmer = &pass.Warmer{Runtime: rt, Chains: 1, Changed: a.notify}
	return a
}

func listOf(t *testing.T, refs ...string) *imagelist.List {
	t.Helper()
	l := &imagelist.List{}
	for _, r := range refs {
		l.Images = append(l.Images, contract.ListedImage{Ref: r})
	}
	return l
}

func TestLoopLiftsTheStartupTaintOnceEveryImageIsReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "winimage.io/warming", Effect: corev1.TaintEffectNoSchedule}}}}
		rt := newSlowRuntime(10 * time.Millisecond)
		a := testAgent(t, rt, "winimage.io/warming", node)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { a.loop(ctx, listOf(t, "r/a:1", "r/b:1")); close(done) }()
		// Both pulls take 10 ms: a second is ample.
		time.Sleep(time.Second)
		synctest.Wait()
		if n, _ := a.kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); len(n.Spec.Taints) != 0 {
			t.Fatalf("the taint is still there: %+v", n.Spec.Taints)
		}
		if s := a.warmer.Snapshot(); !s.AllReady() {
			t.Fatalf("taint lifted before every image was ready: %+v", s)
		}
		cancel()
		<-done
	})
}

// An image that ends Failed must not keep the node tainted for good: the
// pass did what it could, the taint goes, and the node says why.
func TestAPassThatEndsWithAFailedImageLiftsTheTaintAndSaysWhy(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{
		{Key: "winimage.io/warming", Effect: corev1.TaintEffectNoSchedule}, {Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule}}}}
	rt := newSlowRuntime(0)
	a := testAgent(t, rt, "winimage.io/warming", node)
	a.pub = &report.Publisher{}
	list := listOf(t, "r/a:1")
	list.Images = append(list.Images, contract.ListedImage{Ref: "bad ref", Invalid: "not a reference"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	next, stopped := a.pass(ctx, list)
	if next != nil || stopped {
		t.Fatalf("pass: next=%v stopped=%v", next, stopped)
	}
	n, _ := a.kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != "os" {
		t.Fatalf("taints after a pass with a failed image: %+v", n.Spec.Taints)
	}
	ev := liftEvent(t, a)
	if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, "1 of 2 images not warm (bad ref Failed)") {
		t.Errorf("event %s: %q", ev.Type, ev.Message)
	}
	if len(a.pub.Warnings) != 1 || a.pub.Warnings[0] != ev.Message {
		t.Errorf("warnings published: %q", a.pub.Warnings)
	}
	// A later pass neither lifts again nor records it again.
	a.pass(ctx, list)
	if evs, _ := a.kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{}); len(evs.Items) != 1 {
		t.Errorf("%d events after two passes", len(evs.Items))
	}
}

// A pass that never ends (a pull slot that never frees, a registry that
// trickles) lifts the taint at the deadline counted from the node's
// creation, not from the daemon's start.
func TestTheStartupTaintGoesAtTheDeadlineWhileAPullHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		joined := time.Now().Add(-29 * time.Minute)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(joined)},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "winimage.io/warming", Effect: corev1.TaintEffectNoSchedule}}}}
		rt := newSlowRuntime(24 * time.Hour)
		a := testAgent(t, rt, "winimage.io/warming", node)
		a.cfg.StartupTaintTimeout = 30 * time.Minute
		a.pub = &report.Publisher{}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go a.loop(ctx, listOf(t, "r/slow:1"))
		go a.startupTaintDeadline(ctx, joined)
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if n, _ := a.kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); len(n.Spec.Taints) != 1 {
			t.Fatalf("taint lifted before the deadline: %+v", n.Spec.Taints)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n, _ := a.kube.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{}); len(n.Spec.Taints) != 0 {
			t.Fatalf("taint still there 30m after the node joined: %+v", n.Spec.Taints)
		}
		if ev := liftEvent(t, a); !strings.Contains(ev.Message, "lifted 30m0s after the node joined with 1 of 1 images not warm yet (r/slow:1 Pulling)") {
			t.Errorf("event: %q", ev.Message)
		}
		cancel()
		synctest.Wait()
	})
}

func liftEvent(t *testing.T, a *agent) corev1.Event {
	t.Helper()
	evs, err := a.kube.CoreV1().Events("default").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].Reason != "StartupTaintLifted" || evs.Items[0].InvolvedObject.Name != "n1" {
		t.Fatalf("events: %+v, %v", evs, err)
	}
	return evs.Items[0]
}

func TestANewListCutsTheRunningPassShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		rt := newSlowRuntime(time.Hour)
		a := testAgent(t, rt, "", node)
		got := make(chan *imagelist.List, 1)
		go func() { next, _ := a.pass(t.Context(), listOf(t, "r/slow:1")); got <- next }()
		synctest.Wait()
		if s := a.warmer.Snapshot(); len(s.Images) != 1 || s.Images[0].State != contract.Pulling {
			t.Fatalf("the pull has not started: %+v", s)
		}
		newer := listOf(t, "r/other:1")
		a.listChanged(newer)
		select {
		case next := <-got:
			if next != newer {
				t.Fatalf("pass returned %v, want the new list", next)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a new list did not cut the pass short")
		}
	})
}

func TestLoopStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		a := testAgent(t, newSlowRuntime(time.Hour), "", node)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { a.loop(ctx, listOf(t, "r/a:1")); close(done) }()
		synctest.Wait()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("loop did not stop")
		}
	})
}

func TestPinWarningOnlyBelow1710(t *testing.T) {
	for v, want := range map[string]bool{"1.7.9": true, "v1.6.36": true, "1.7.10": false, "v2.1.4": false, "garbage": false} {
		msg, got := pinWarning(v)
		if got != want || (got && !strings.Contains(msg, "1.7.10")) {
			t.Errorf("pinWarning(%q) = %q, %v", v, msg, got)
		}
	}
}

// Passes are spread: a node waits RecheckInterval ±25 % after a pass that
// left everything warm, RetryInterval after one that left an image Failed.
func TestTheNextPassIsJitteredAndSoonerAfterAFailure(t *testing.T) {
	warmSnap := contract.Snapshot{Images: []contract.ImageState{{State: contract.Ready}, {State: contract.Skipped}}}
	failed := contract.Snapshot{Images: []contract.ImageState{{State: contract.Ready}, {State: contract.Failed}}}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := nextPassIn(warmSnap, 4*time.Hour, 10*time.Minute)
		if d < 3*time.Hour || d > 5*time.Hour {
			t.Fatalf("wait %s outside 4h ±25%%", d)
		}
		seen[d.Truncate(time.Minute)] = true
		if d := nextPassIn(failed, 4*time.Hour, 10*time.Minute); d < 7*time.Minute+30*time.Second || d > 12*time.Minute+30*time.Second {
			t.Fatalf("after a failure: %s", d)
		}
	}
	if len(seen) < 50 {
		t.Errorf("only %d distinct waits in 200: not spread", len(seen))
	}
}

func TestPullMethodFollowsTheNodesCRI(t *testing.T) {
	refusing := nodeconfig.Config{MaxConcurrentDownloads: 4}
	cases := []struct {
		version  string
		cfg      nodeconfig.Config
		transfer bool
	}{
		{"v1.7.35", nodeconfig.Config{MaxConcurrentDownloads: 3}, false},
		{"v2.1.9", nodeconfig.Config{MaxConcurrentDownloads: 3}, true},
		{"v2.4.2", refusing, false},
		{"not a version", nodeconfig.Config{MaxConcurrentDownloads: 3}, false},
	}
	for _, c := range cases {
		if got, why := pullMethod(c.version, c.cfg, "windows"); got != c.transfer {
			t.Errorf("%s %+v: transfer=%v (%s), want %v", c.version, c.cfg, got, why, c.transfer)
		}
	}
}
