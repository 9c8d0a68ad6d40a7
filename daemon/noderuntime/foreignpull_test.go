package noderuntime

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestExtractionChainReadsTheUnpackersKeys(t *testing.T) {
	cases := map[string]string{
		"extract-123456789-AbCd sha256:aaaa": "sha256:aaaa",
		"extract-1 sha256:bbbb":              "sha256:bbbb",
		"sha256:aaaa":                        "",
		"k8s.io/42/abc":                      "",
		"extract-no-chain":                   "",
	}
	for key, want := range cases {
		if got := extractionChain(key); got != want {
			t.Errorf("extractionChain(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestForeignActivityChangesWhenAnyOffsetOrUsageDoes(t *testing.T) {
	a := foreignActivity{ingests: map[string]int64{"layer-sha256:a": 10}, extracts: map[string]int64{"extract-1 c": 5}}
	if a.none() || !a.same(a) {
		t.Fatal("an activity is some and the same as itself")
	}
	for name, b := range map[string]foreignActivity{
		"offset": {ingests: map[string]int64{"layer-sha256:a": 11}, extracts: a.extracts},
		"usage":  {ingests: a.ingests, extracts: map[string]int64{"extract-1 c": 6}},
		"gone":   {ingests: map[string]int64{}, extracts: a.extracts},
		"new":    {ingests: a.ingests, extracts: map[string]int64{"extract-1 c": 5, "extract-2 d": 0}},
	} {
		if a.same(b) {
			t.Errorf("%s: a change was taken for the same", name)
		}
	}
	if !(foreignActivity{}).none() {
		t.Error("an empty look saw something")
	}
}

// TestChainIDsFromTheStoreBeforeAnyImageRecord: the chains of the node's
// platform are read from an index, a manifest and a config alone (a pull
// under way has written no record yet), and not at all until they are there.
func TestChainIDsFromTheStoreBeforeAnyImageRecord(t *testing.T) {
	ctx := t.Context()
	cs, err := local.NewStore(wine.TempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	diffIDs := []digest.Digest{digest.FromString("base"), digest.FromString("app")}
	linux := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	config := write(ctx, t, cs, ocispec.MediaTypeImageConfig, ocispec.Image{Platform: linux, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	windows := ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.1"}
	otherConfig := write(ctx, t, cs, ocispec.MediaTypeImageConfig, ocispec.Image{Platform: windows, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("servercore")}}})
	other := write(ctx, t, cs, ocispec.MediaTypeImageManifest, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: otherConfig})
	manifest := write(ctx, t, cs, ocispec.MediaTypeImageManifest, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config})
	other.Platform = &windows
	manifest.Platform = &linux
	index := write(ctx, t, cs, ocispec.MediaTypeImageIndex, ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{other, manifest}})

	want := identity.ChainIDs(append([]digest.Digest(nil), diffIDs...))
	for name, target := range map[string]digest.Digest{"index": index.Digest, "manifest": manifest.Digest} {
		got := chainIDs(ctx, cs, platforms.Only(linux), target.String())
		if len(got) != len(want) {
			t.Fatalf("%s: chains %v, want %v", name, got, want)
		}
		for _, c := range want {
			if !got[c.String()] {
				t.Errorf("%s: chain %s missing from %v", name, c, got)
			}
		}
	}
	if got := chainIDs(ctx, cs, platforms.Only(linux), digest.FromString("not fetched yet").String()); got != nil {
		t.Errorf("chains of an index not in the store: %v", got)
	}
}

func write(ctx context.Context, t *testing.T, cs content.Store, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(ctx, cs, desc.Digest.String(), bytes.NewReader(b), desc); err != nil {
		t.Fatal(err)
	}
	return desc
}

// extractingSnapshotter has one active extraction snapshot, whose
// directory grows until done; Usage counts its directory walks.
type extractingSnapshotter struct {
	snapshots.Snapshotter
	key   string
	until time.Time
	// still: a leftover that never grows.
	still  bool
	mu     sync.Mutex
	usages int
}

func (s *extractingSnapshotter) Walk(ctx context.Context, fn snapshots.WalkFunc, _ ...string) error {
	if time.Now().After(s.until) {
		return nil // committed
	}
	return fn(ctx, snapshots.Info{Name: s.key, Kind: snapshots.KindActive})
}

func (s *extractingSnapshotter) Usage(context.Context, string) (snapshots.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usages++
	if s.still {
		return snapshots.Usage{Size: 42}, nil
	}
	return snapshots.Usage{Size: time.Now().UnixNano()}, nil
}

// A layer CRI unpacks on containerd 1.7 keeps the daemon waiting while it
// grows, and the daemon measures it twice a minute, not twice a second:
// each measure walks the layer's directory on the disk the unpack writes.
func TestWaitingOnAnUnpackWalksItsDirectoryRarely(t *testing.T) {
	wine.Skip(t, "containerd's local content store leaves each committed ingest's folder behind (its RemoveAll needs a delete mode Wine 8.0 lacks), and ListStatuses then fails on it")
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		cs, manifest, chain := oneLayerImage(t)
		linux := ocispec.Platform{OS: "linux", Architecture: "amd64"}
		const unpack = 5 * time.Minute
		sn := &extractingSnapshotter{key: "extract-1-abc " + chain, until: time.Now().Add(unpack)}
		start := time.Now()
		waitForeign(ctx, cs, sn, platforms.Only(linux), manifest.Digest.String(), nil)
		if waited := time.Since(start); waited < unpack {
			t.Errorf("stopped waiting after %s while the layer unpacked for %s", waited, unpack)
		}
		// Twice a minute, and once more at the start and the end.
		if most := 12; sn.usages > most {
			t.Errorf("%d directory walks in a %s unpack; want at most %d", sn.usages, unpack, most)
		}
	})
}

// A stopped pull's extraction, kept by its lease, never grows: the wait
// ends about as soon as for a leftover ingest, not after a long measure.
func TestALeftoverExtractionEndsTheWaitQuickly(t *testing.T) {
	wine.Skip(t, "containerd's local content store leaves each committed ingest's folder behind (its RemoveAll needs a delete mode Wine 8.0 lacks), and ListStatuses then fails on it")
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		cs, manifest, chain := oneLayerImage(t)
		linux := ocispec.Platform{OS: "linux", Architecture: "amd64"}
		sn := &extractingSnapshotter{key: "extract-1-abc " + chain, until: time.Now().Add(time.Hour), still: true}
		start := time.Now()
		waitForeign(ctx, cs, sn, platforms.Only(linux), manifest.Digest.String(), nil)
		if waited := time.Since(start); waited > 3*foreignQuiet {
			t.Errorf("waited %s on an extraction that never grew", waited)
		}
	})
}

// oneLayerImage is a content store holding a one-layer Linux image's
// manifest and config (what CRI fetches before it unpacks), the manifest,
// and the layer's chain ID.
func oneLayerImage(t *testing.T) (content.Store, ocispec.Descriptor, string) {
	t.Helper()
	ctx := t.Context()
	cs, err := local.NewStore(wine.TempDir(t))
	if err != nil {
		t.Fatal(err)
	}
	linux := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	diffIDs := []digest.Digest{digest.FromString("servercore")}
	config := write(ctx, t, cs, ocispec.MediaTypeImageConfig, ocispec.Image{Platform: linux, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	manifest := write(ctx, t, cs, ocispec.MediaTypeImageManifest, ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config})
	return cs, manifest, identity.ChainID(diffIDs).String()
}
