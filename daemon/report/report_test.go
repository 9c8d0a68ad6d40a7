package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestPublisher(t *testing.T) {
	state := filepath.Join(wine.TempDir(t), "state.json")
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d-1"}})
		p := &Publisher{Client: client, Namespace: "ns", PodName: "d-1", NodeName: "n1", StateFile: state, Interval: 100 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		snap := contract.Snapshot{Total: 1, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Pulling}}}
		changed := make(chan struct{}, 100)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		var mu sync.Mutex
		current := func() contract.Snapshot { mu.Lock(); defer mu.Unlock(); return snap }
		go func() { p.Run(ctx, changed, current); close(done) }()
		for i := 0; i < 20; i++ {
			changed <- struct{}{}
		}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		snap = contract.Snapshot{Total: 1, Ready: 1, Done: true, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Ready, BytesTotal: 10 << 20}}}
		mu.Unlock()
		changed <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		cancel()
		<-done
		checkPublished(t, client, state)
	})
}

// checkPublished: two patches for the two states, the last on the pod and
// in the state file, and one Event on the node.
func checkPublished(t *testing.T, client *fake.Clientset, state string) {
	t.Helper()
	patches := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" && a.GetResource().Resource == "pods" {
			patches++
		}
	}
	if patches != 2 {
		t.Errorf("%d pod patches for 21 changes in two states, want 2 (coalesced, unchanged skipped)", patches)
	}
	pod, _ := client.CoreV1().Pods("ns").Get(t.Context(), "d-1", metav1.GetOptions{})
	var prog contract.Progress
	if err := json.Unmarshal([]byte(pod.Annotations[contract.AnnotationProgress]), &prog); err != nil || prog.Node != "n1" || !prog.AllReady() {
		t.Fatalf("annotation = %q (%v)", pod.Annotations[contract.AnnotationProgress], err)
	}
	fromFile, err := ReadState(state)
	if err != nil || !fromFile.AllReady() {
		t.Fatalf("state file: %+v %v", fromFile, err)
	}
	events, _ := client.CoreV1().Events("default").List(t.Context(), metav1.ListOptions{})
	if len(events.Items) != 1 || events.Items[0].Reason != "WarmComplete" || events.Items[0].InvolvedObject.Kind != "Node" {
		t.Fatalf("events = %+v", events.Items)
	}
}

// TestPublisherRetriesWhatTheAPIServerMissed: the last state is published
// while the API server is down (restarting); with nothing changing after,
// the publisher tries again until the pod has it, or warm status would show
// the node pulling for ever.
func TestPublisherRetriesWhatTheAPIServerMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d-1"}})
		var down atomic.Bool
		down.Store(true)
		client.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			if down.Load() {
				return true, nil, errors.New("connection refused")
			}
			return false, nil, nil
		})
		p := &Publisher{Client: client, Namespace: "ns", PodName: "d-1", NodeName: "n1", Interval: 50 * time.Millisecond, RetryInterval: 50 * time.Millisecond,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		ready := contract.Snapshot{Total: 1, Ready: 1, Done: true, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Ready}}}
		changed := make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go p.Run(ctx, changed, func() contract.Snapshot { return ready })
		changed <- struct{}{}
		time.Sleep(200 * time.Millisecond)
		down.Store(false) // the API server is back; nothing changes any more
		time.Sleep(5 * time.Second)
		synctest.Wait()
		pod, _ := client.CoreV1().Pods("ns").Get(t.Context(), "d-1", metav1.GetOptions{})
		if prog, err := contract.ParseProgress(pod.Annotations[contract.AnnotationProgress]); err != nil || !prog.AllReady() {
			t.Fatal("the state missed while the API server was down never reached the pod")
		}
		cancel()
		synctest.Wait()
	})
}

func countActions(client *fake.Clientset, verb, resource string) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

// A pull's byte counts move every few hundred milliseconds; the pod is
// patched for them at most once per ProgressInterval, while a change of
// state goes out within Interval.
func TestProgressOfBytesIsPublishedAtMostOncePerProgressInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d-1"}})
		p := &Publisher{Client: client, Namespace: "ns", PodName: "d-1", NodeName: "n1", Interval: 2 * time.Second, ProgressInterval: 30 * time.Second,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		var mu sync.Mutex
		snap := contract.Snapshot{Total: 1, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Pulling, BytesTotal: 1 << 30}}}
		changed := make(chan struct{}, 1)
		notify := func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			p.Run(ctx, changed, func() contract.Snapshot {
				mu.Lock()
				defer mu.Unlock()
				s := snap
				s.Images = slices.Clone(snap.Images)
				return s
			})
			close(done)
		}()
		notify()
		// Two minutes of a pull: bytes and the timestamp move every 250 ms.
		for i := range 480 {
			time.Sleep(250 * time.Millisecond)
			mu.Lock()
			snap.Images[0].BytesDone = int64(i+1) << 20
			snap.Images[0].Updated = time.Now()
			mu.Unlock()
			notify()
		}
		patchesDuringPull := countActions(client, "patch", "pods")
		mu.Lock()
		snap = contract.Snapshot{Total: 1, Ready: 1, Done: true, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Ready, BytesDone: 1 << 30, BytesTotal: 1 << 30}}}
		mu.Unlock()
		notify()
		time.Sleep(3 * time.Second)
		readyAt := countActions(client, "patch", "pods")
		cancel()
		<-done
		// 120 s of bytes: the first state, the first bytes, then one each
		// 30 s.
		if patchesDuringPull > 6 {
			t.Errorf("%d patches in a 2-minute pull, want at most 6 (the start, the first bytes, one per 30 s)", patchesDuringPull)
		}
		if readyAt != patchesDuringPull+1 {
			t.Errorf("Ready not published within the interval: %d patches, then %d", patchesDuringPull, readyAt)
		}
	})
}

// Events mark what changed on the node: warm, failed (a new set of failed
// images), warm again; a recheck that ends as the last pass did records
// nothing.
func TestEventsOnlyOnTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d-1"}})
		named := 0
		client.PrependReactor("create", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
			ev := a.(k8stesting.CreateAction).GetObject().(*corev1.Event)
			named++
			ev.Name = fmt.Sprintf("%s%03d", ev.GenerateName, named)
			return false, nil, nil
		})
		p := &Publisher{Client: client, Namespace: "ns", PodName: "d-1", NodeName: "n1", Interval: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		ready := contract.Snapshot{Total: 1, Ready: 1, Done: true, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Ready}}}
		checking := contract.Snapshot{Total: 1, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Pending}}}
		failed := func(reason string) contract.Snapshot {
			return contract.Snapshot{Total: 1, Done: true, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Failed, Reason: reason}}}
		}
		var want []string
		for _, step := range []struct {
			s     contract.Snapshot
			event string
		}{
			{ready, "WarmComplete"}, {checking, ""}, {ready, ""}, {checking, ""}, {ready, ""},
			{failed("gave up after 8 attempts: 503"), "WarmFailed"}, {checking, ""}, {failed("gave up after 8 attempts: EOF"), ""},
			{ready, "WarmComplete"},
		} {
			p.publish(t.Context(), step.s)
			if step.event != "" {
				want = append(want, step.event)
			}
		}
		events, _ := client.CoreV1().Events("default").List(t.Context(), metav1.ListOptions{})
		var got []string
		for _, e := range events.Items {
			got = append(got, e.Reason)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("events %v, want %v", got, want)
		}
	})
}
