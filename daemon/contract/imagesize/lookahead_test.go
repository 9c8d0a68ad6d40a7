package imagesize

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

func TestLookaheadFillsTheCachesWithinTheLimit(t *testing.T) {
	slow := &slowRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	reg := &countingRegistry{h: slow}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	refs := pushTwelve(t, strings.TrimPrefix(srv.URL, "http://"))
	reg.manifests.Store(0)

	r := &Resolver{Concurrency: 3}
	ctx := t.Context()
	l := r.Lookahead(ctx)
	for _, ref := range refs {
		// Asked for more than once, as the audit does for each pod.
		l.Prefetch(ref, win("10.0.17763.9"))
		l.Resolve(ref)
		l.Prefetch(ref, win("10.0.20348.9"))
		l.Prefetch(ref, win("10.0.20348.9"))
	}
	l.Wait()
	if m := slow.maxSeen.Load(); m < 2 || m > 3 {
		t.Errorf("%d manifest fetches in flight at most, want 2..3 (concurrent, limit 3)", m)
	}
	// One GET per tag and one per entry, however often asked.
	if got, want := reg.manifests.Load(), int64(len(refs)*3); got != want {
		t.Errorf("%d manifest GETs, want %d", got, want)
	}

	// What the caller asks afterwards is read from the caches.
	imgs := r.ResolveAll(ctx, refs)
	for _, ref := range refs {
		for _, v := range []string{"10.0.17763.9", "10.0.20348.9"} {
			if m, ok, err := r.For(ctx, imgs[ref], win(v)); err != nil || !ok || m.Size == 0 {
				t.Fatalf("%s on %s: %+v %v %v", ref, v, m, ok, err)
			}
		}
	}
	if got, want := reg.manifests.Load(), int64(len(refs)*3); got != want {
		t.Errorf("%d manifest GETs after reading the caches, want still %d", got, want)
	}
}

func TestLookaheadStopsWithItsContext(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r := &Resolver{Concurrency: 1}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	l := r.Lookahead(ctx)
	l.Prefetch(host+"/apps/x:1", win("10.0.17763.9"))
	l.Resolve(host + "/apps/y:1")
	l.Wait()
	if n := reg.manifests.Load(); n != 0 {
		t.Fatalf("%d registry requests after the context ended", n)
	}
}

func TestForgetDropsOnlyFailedLookups(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	spec := imagefixtures.Spec{Images: []imagefixtures.Image{{Ref: "apps/ok:1", Layers: []resource.Quantity{resource.MustParse("1Ki")}, Windows: []string{"10.0.20348.1"}}}}
	if _, err := imagefixtures.Push(t.Context(), host, spec); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{}
	ctx := t.Context()
	ok, private := r.Resolve(ctx, host+"/apps/ok:1"), r.Resolve(ctx, host+"/private/app:1")
	if ok.Err != nil || private.Err == nil {
		t.Fatalf("ok: %v, private: %v", ok.Err, private.Err)
	}
	if r.Forget(host + "/apps/ok:1") {
		t.Error("forgot a lookup that succeeded")
	}
	if !r.Forget(host + "/private/app:1") {
		t.Error("kept a failed lookup")
	}
	if r.Forget(host + "/apps/never:1") {
		t.Error("forgot a reference never looked up")
	}
	before := reg.manifests.Load()
	if again := r.Resolve(ctx, host+"/apps/ok:1"); again != ok {
		t.Error("a kept lookup was fetched again")
	}
	if again := r.Resolve(ctx, host+"/private/app:1"); again == private || again.Err == nil {
		t.Errorf("a forgotten lookup was not asked again: %v", again.Err)
	}
	if reg.manifests.Load() != before {
		// The private path answers 401 before counting.
		t.Errorf("%d manifest GETs after forgetting, want %d", reg.manifests.Load(), before)
	}
}
