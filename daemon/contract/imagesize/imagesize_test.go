package imagesize

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

func win(v string) ocispec.Platform {
	return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
}

type countingRegistry struct {
	h         http.Handler
	manifests atomic.Int64
	blobs     atomic.Int64
	pings     atomic.Int64
}

func (c *countingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/private/") {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		return
	}
	if strings.Contains(r.URL.Path, "/manifests/") {
		c.manifests.Add(1)
	}
	if r.URL.Path == "/v2/" {
		c.pings.Add(1)
	}
	if strings.Contains(r.URL.Path, "/blobs/") {
		c.blobs.Add(1)
	}
	c.h.ServeHTTP(w, r)
}

func TestResolverPicksNodeEntryAndFetchesEachManifestOnce(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	q := resource.MustParse
	catalog, err := imagefixtures.Push(t.Context(), host, imagefixtures.Spec{
		Bases: map[string]imagefixtures.Base{
			"sc":     {Layers: []resource.Quantity{q("32Ki")}},
			"legacy": {Layers: []resource.Quantity{q("1500Mi")}, Foreign: true},
		},
		Images: []imagefixtures.Image{
			{Ref: "apps/web:1", Bases: []string{"sc"}, Layers: []resource.Quantity{q("4Ki")}, Windows: []string{"10.0.17763.5576", "10.0.20348.2340"}},
			{Ref: "apps/old:1", Bases: []string{"legacy"}, Layers: []resource.Quantity{q("4Ki")}, Windows: []string{"10.0.17763.5576"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg.manifests.Store(0)
	reg.blobs.Store(0)

	ctx := t.Context()
	r := &Resolver{Concurrency: 4}
	web := host + "/apps/web:1"
	imgs := r.ResolveAll(ctx, []string{web, web, host + "/apps/old:1"})
	hosts := []ocispec.Platform{win("10.0.17763.100"), win("10.0.17763.200"), win("10.0.20348.2582"), win("10.0.26100.1742")}
	var got []int64
	for _, h := range hosts {
		m, ok, err := r.For(ctx, imgs[web], h)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			got = append(got, -1)
			continue
		}
		got = append(got, m.Size)
	}
	_, e17763, _ := catalog.Entry("apps/web:1", "windows", "17763")
	_, e20348, _ := catalog.Entry("apps/web:1", "windows", "20348")
	// 26100 hosts accept 20348 containers.
	want := []int64{e17763.Size, e17763.Size, e20348.Size, e20348.Size}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sizes per host = %v, want %v", got, want)
		}
	}
	old, ok, err := r.For(ctx, imgs[host+"/apps/old:1"], win("10.0.17763.1"))
	if err != nil || !ok || old.ForeignLayers != 1 || old.ForeignBytes != 1500<<20 || old.Size <= 1500<<20 {
		t.Fatalf("old = %+v ok=%v err=%v, want the foreign layer counted and flagged", old, ok, err)
	}
	if _, ok, _ := r.For(ctx, imgs[host+"/apps/old:1"], win("10.0.20348.1")); ok {
		t.Fatal("a 17763-only image resolved on a 20348 host")
	}
	// 2 tags + web's 17763 and 20348 manifests + old's 17763 manifest.
	if n := reg.manifests.Load(); n != 5 {
		t.Errorf("manifest requests = %d, want 5 (one per unique tag and manifest)", n)
	}
	if n := reg.blobs.Load(); n != 0 {
		t.Errorf("blob requests = %d, want 0: sizes come from manifests", n)
	}
	if v := imgs[web].OSVersions(); len(v) != 2 {
		t.Errorf("OSVersions = %v", v)
	}
}

func TestResolverReportsRegistryErrorsPerImage(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	r := &Resolver{}
	ctx := t.Context()

	if img := r.Resolve(ctx, host+"/private/app:1"); img.Err == nil || !strings.Contains(img.Err.Error(), "401") {
		t.Errorf("private: %v, want a 401 reason", img.Err)
	}
	if img := r.Resolve(ctx, host+"/apps/missing:1"); img.Err == nil || !strings.Contains(img.Err.Error(), "404") {
		t.Errorf("missing: %v, want a 404 reason", img.Err)
	}
	if img := r.Resolve(ctx, "127.0.0.1:1/apps/x:1"); img.Err == nil {
		t.Error("unreachable registry gave no error")
	}
	if img := r.Resolve(ctx, "UPPER/Case:1"); img.Err == nil || !strings.Contains(img.Err.Error(), "bad reference") {
		t.Errorf("bad ref: %v", img.Err)
	}
}

// slowRegistry holds each manifest GET briefly and records the most
// requests it saw in flight at once.
type slowRegistry struct {
	h                 http.Handler
	inFlight, maxSeen atomic.Int64
}

func (s *slowRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/manifests/sha256:") {
		n := s.inFlight.Add(1)
		for {
			m := s.maxSeen.Load()
			if n <= m || s.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		defer s.inFlight.Add(-1)
	}
	s.h.ServeHTTP(w, r)
}

// pushTwelve pushes twelve images with a 17763 and a 20348 entry each and
// returns their references.
func pushTwelve(t *testing.T, host string) []string {
	spec := imagefixtures.Spec{}
	var refs []string
	for i := 0; i < 12; i++ {
		spec.Images = append(spec.Images, imagefixtures.Image{Ref: fmt.Sprintf("apps/a%d:1", i), Layers: []resource.Quantity{resource.MustParse("1Ki")}, Windows: []string{"10.0.17763.1", "10.0.20348.1"}})
		refs = append(refs, fmt.Sprintf("%s/apps/a%d:1", host, i))
	}
	if _, err := imagefixtures.Push(t.Context(), host, spec); err != nil {
		t.Fatal(err)
	}
	return refs
}

func TestPrefetchFetchesManifestsConcurrentlyWithinTheLimit(t *testing.T) {
	reg := &slowRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	refs := pushTwelve(t, strings.TrimPrefix(srv.URL, "http://"))
	r := &Resolver{Concurrency: 3}
	ctx := t.Context()
	imgs := r.ResolveAll(ctx, refs)
	var wants []Want
	for _, ref := range refs {
		wants = append(wants, Want{imgs[ref], win("10.0.17763.9")}, Want{imgs[ref], win("10.0.20348.9")})
	}
	r.Prefetch(ctx, wants)
	if m := reg.maxSeen.Load(); m < 2 || m > 3 {
		t.Fatalf("%d manifest fetches in flight at most, want 2..3 (concurrent, limit 3)", m)
	}
	for _, w := range wants {
		if m, ok, err := r.For(ctx, w.Image, w.Host); err != nil || !ok || m.Size == 0 {
			t.Fatalf("after Prefetch: %+v %v %v", m, ok, err)
		}
	}
}

func TestDescribeUsesTheStatusCodeNotTheMessage(t *testing.T) {
	// A registry on port 40181: its address must not read as a 401.
	notFound := &transport.Error{StatusCode: http.StatusNotFound, Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}}
	if got := describe(fmt.Errorf("GET http://127.0.0.1:40181/v2/a/manifests/1: %w", notFound)).Error(); !strings.Contains(got, "404") || strings.Contains(got, "401") {
		t.Errorf("404 from port 40181 described as %q", got)
	}
	if got := describe(&transport.Error{StatusCode: http.StatusUnauthorized}).Error(); !strings.Contains(got, "401") {
		t.Errorf("401: %q", got)
	}
	refused := fmt.Errorf("dial tcp 127.0.0.1:40181: connect: connection refused")
	if describe(refused) != refused {
		t.Error("a connection error was rewritten")
	}
}

func TestForRulePicksTheEntryEachContainerdLinePulls(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	q := resource.MustParse
	// Two entries a 20348.2582 host can run, the older revision first.
	catalog, err := imagefixtures.Push(t.Context(), host, imagefixtures.Spec{
		Bases:  map[string]imagefixtures.Base{"sc": {Layers: []resource.Quantity{q("8Ki")}}},
		Images: []imagefixtures.Image{{Ref: "apps/two:1", Bases: []string{"sc"}, Layers: []resource.Quantity{q("4Ki")}, Windows: []string{"10.0.20348.1000", "10.0.20348.2582"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r := &Resolver{Concurrency: 2}
	img := r.Resolve(ctx, host+"/apps/two:1")
	var older, newer imagefixtures.Manifest
	for _, e := range catalog["apps/two:1"].Entries {
		switch e.OSVersion {
		case "10.0.20348.1000":
			older = e
		case "10.0.20348.2582":
			newer = e
		}
	}
	if older.Digest == "" || newer.Digest == "" || older.Digest == newer.Digest {
		t.Fatalf("fixture entries: %+v %+v", older, newer)
	}
	for _, c := range []struct {
		rule osbuild.Rule
		want string
	}{{osbuild.FirstMatch, older.Digest}, {osbuild.HighestOSVersion, newer.Digest}} {
		m, ok, err := r.ForRule(ctx, img, win("10.0.20348.2582"), c.rule)
		if err != nil || !ok || m.Digest != c.want {
			t.Errorf("%v: %s (%v, %v), want %s", c.rule, m.Digest, ok, err, c.want)
		}
	}
}

func TestSingleManifestImageIsJudgedByItsConfigPlatform(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	// What `docker build && docker push` on a Server 2019 host pushes: one
	// manifest, the OS version only in the config.
	layer, err := random.Layer(2048, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6893"})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/apps/single:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r := &Resolver{Concurrency: 2}
	resolved := r.Resolve(ctx, ref.String())
	if _, ok, err := r.For(ctx, resolved, win("10.0.20348.2582")); err != nil || ok {
		t.Errorf("a 17763 single-manifest image runs on a 20348 host: ok=%v err=%v", ok, err)
	}
	m, ok, err := r.For(ctx, resolved, win("10.0.17763.7000"))
	if err != nil || !ok || m.OSVersion != "10.0.17763.6893" {
		t.Errorf("on its own build: %+v ok=%v err=%v", m, ok, err)
	}
	if v := resolved.OSVersions(); len(v) != 1 || v[0] != "10.0.17763.6893" {
		t.Errorf("OSVersions = %v", v)
	}
}

// One repository's tags, entries and configs share its ping (and its auth
// and token): go-containerregistry pings once per repository and Puller.
func TestLookupsOfOneRepositoryPingItOnce(t *testing.T) {
	reg := &countingRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	spec := imagefixtures.Spec{}
	for _, tag := range []string{"1", "2", "3"} {
		spec.Images = append(spec.Images, imagefixtures.Image{Ref: "apps/web:" + tag, Layers: []resource.Quantity{resource.MustParse("1Ki")}, Windows: []string{"10.0.17763.1", "10.0.20348.1"}})
	}
	spec.Images = append(spec.Images, imagefixtures.Image{Ref: "apps/cart:1", Layers: []resource.Quantity{resource.MustParse("1Ki")}, Windows: []string{"10.0.20348.1"}})
	if _, err := imagefixtures.Push(t.Context(), host, spec); err != nil {
		t.Fatal(err)
	}
	reg.pings.Store(0)
	r := &Resolver{Concurrency: 1}
	ctx := t.Context()
	for _, ref := range []string{"apps/web:1", "apps/web:2", "apps/web:3", "apps/cart:1"} {
		img := r.Resolve(ctx, host+"/"+ref)
		for _, v := range []string{"10.0.17763.9", "10.0.20348.9"} {
			if _, _, err := r.For(ctx, img, win(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := reg.pings.Load(); got != 2 {
		t.Fatalf("%d pings for 11 manifest GETs in 2 repositories, want 2", got)
	}
}

// methodCounter counts manifest requests by method.
type methodCounter struct {
	h     http.Handler
	mu    sync.Mutex
	count map[string]int
}

func (c *methodCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/manifests/") {
		c.mu.Lock()
		c.count[r.Method]++
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

// Head asks for a tag's digest with one HEAD, which registries that meter
// pulls do not count, and asks nothing for a reference by digest.
func TestHeadSendsOneHEADForATagAndNothingForADigest(t *testing.T) {
	reg := &methodCounter{h: registry.New(registry.Logger(log.New(io.Discard, "", 0))), count: map[string]int{}}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	img, err := random.Index(64, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/apps/web:1"
	tag, _ := name.NewTag(ref)
	if err := remote.WriteIndex(tag, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	reg.count = map[string]int{}
	r := &Resolver{}
	got, err := r.Head(t.Context(), ref)
	if err != nil || got != want.String() {
		t.Fatalf("Head = %s, %v; want %s", got, err, want)
	}
	pinned := tag.Context().Digest(want.String()).String()
	if got, err := r.Head(t.Context(), pinned); err != nil || got != want.String() {
		t.Fatalf("Head of a digest = %s, %v", got, err)
	}
	if reg.count[http.MethodHead] != 1 || reg.count[http.MethodGet] != 0 {
		t.Errorf("manifest requests by method %v, want one HEAD", reg.count)
	}
}
