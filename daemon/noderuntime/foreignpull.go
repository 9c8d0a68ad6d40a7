package noderuntime

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A pull kubelet started before the daemon's, on a node whose CRI pulls with
// containerd's client rather than the Transfer service (containerd 1.7, or
// 2.x set to pull locally), unpacks in containerd's process with CRI's own
// duplication suppressor, which the daemon's unpacker cannot share
// (containerd v1.7.35 pkg/cri/server/image_pull.go passes CRI's in-process
// kmutex; containerd v2.4.2 core/unpack/unpacker.go lockSnChainID locks in
// the caller's process only). Each unpacker skips a layer only once its
// chain is committed: it prepares an "extract-<n> <chainID>" snapshot, and
// the snapshotter refuses that only if the chain already exists (v1.7.35
// pkg/unpack/unpacker.go doUnpackFn, v2.4.2 topHalf; metadata/snapshot.go
// createSnapshot). So a daemon pull that starts while CRI is still fetching
// or unpacking the same image unpacks every layer CRI has not committed yet
// a second time, and a Windows layer takes minutes to unpack.
//
// The daemon therefore lets a pull of the same image that is visibly under
// way finish first; its own pull then finds the chains committed. Visible
// means one of the image's layers has an ingest, or one of its chains an
// extraction snapshot. Under way means that evidence changes: an ingest's
// offset, an extraction's disk usage, or the set of either. Leftovers of a
// pull that died (a killed daemon's half-written layers, which containerd
// keeps so the next pull resumes them) never change, so the daemon waits
// for them only foreignQuiet, once.

// Pacing of waitForeignPull: how often it looks, how long the evidence
// must stay unchanged before the daemon pulls anyway, and how often it
// measures an extraction's disk usage. That measure walks the snapshot's
// directory (the windows snapshotter's Usage of an active snapshot:
// containerd v1.7.35 snapshots/windows/windows.go, fs.DiskUsage), a
// servercore layer's tens of thousands of files, on the disk the unpack
// it watches is writing; so it is taken twice a minute, not twice a
// second, and an extraction must stay unchanged over one whole measure.
var (
	foreignLook       = 500 * time.Millisecond
	foreignQuiet      = 3 * time.Second
	foreignUsageEvery = 30 * time.Second
)

// foreignActivity is what one look saw of other pulls of an image.
type foreignActivity struct {
	// ingests: content ingest ref → offset, for the image's layers.
	ingests map[string]int64
	// extracts: extraction snapshot key → disk usage, for its chains.
	extracts map[string]int64
}

func (a foreignActivity) none() bool { return len(a.ingests) == 0 && len(a.extracts) == 0 }

func (a foreignActivity) same(b foreignActivity) bool {
	return maps.Equal(a.ingests, b.ingests) && maps.Equal(a.extracts, b.extracts)
}

// waitForeignPull returns once no other pull of the image is under way, as
// above; it only ever delays the daemon's pull, so a failed look ends it.
func (c *Containerd) waitForeignPull(ctx context.Context, target string, layers map[string]int64) {
	waitForeign(ctx, c.Client.ContentStore(), c.Client.SnapshotService(c.Snapshotter), c.Matcher, target, layers)
}

func waitForeign(ctx context.Context, cs content.Store, sn snapshots.Snapshotter, matcher platforms.MatchComparer, target string, layers map[string]int64) {
	chains := chainIDs(ctx, cs, matcher, target)
	seen, err := lookForeign(ctx, cs, sn, layers, chains, foreignActivity{})
	if err != nil || seen.none() {
		return
	}
	t := time.NewTicker(foreignLook)
	defer t.Stop()
	moved, measured := time.Now(), time.Now()
	// live: an extraction was seen growing. Until then its usage is
	// measured again after foreignQuiet, so a leftover (a stopped pull's
	// extraction, kept by its lease) ends the wait as soon as an ingest's
	// would; once live, twice a minute, and it must stay still over a
	// whole measure.
	live := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if chains == nil {
			// CRI fetches the manifest and config first; once they are in
			// the store, its extractions can be told by their chain IDs.
			chains = chainIDs(ctx, cs, matcher, target)
		}
		// Nothing seen once a pull was under way is a state like any other:
		// between CRI's last fetch and its next extraction, or before its
		// config is in the store to name the chains, a look can see
		// nothing for a moment. Only nothing that stays nothing for
		// foreignQuiet ends the wait.
		known, every := seen, foreignQuiet
		if live {
			every = foreignUsageEvery
		}
		if time.Since(measured) >= every {
			known, measured = foreignActivity{}, time.Now()
		}
		now, err := lookForeign(ctx, cs, sn, layers, chains, known)
		if err != nil {
			return
		}
		if !now.same(seen) {
			live = live || grew(seen.extracts, now.extracts)
			seen, moved = now, time.Now()
		}
		quiet := foreignQuiet
		if live && len(seen.extracts) > 0 {
			quiet = max(quiet, foreignUsageEvery+foreignLook)
		}
		if time.Since(moved) >= quiet {
			return
		}
	}
}

// grew reports whether an extraction in both looks changed its usage.
func grew(before, after map[string]int64) bool {
	for key, size := range after {
		if old, ok := before[key]; ok && old != size {
			return true
		}
	}
	return false
}

// lookForeign lists the ingests of layers and the extraction snapshots of
// chains, measuring the disk usage of an extraction that known does not
// list (known's measure stands for the rest). The daemon has not started
// its own pull of the image yet, so all it sees is another's, or a
// leftover.
func lookForeign(ctx context.Context, cs content.Store, sn snapshots.Snapshotter, layers map[string]int64, chains map[string]bool, known foreignActivity) (foreignActivity, error) {
	seen := foreignActivity{ingests: map[string]int64{}, extracts: map[string]int64{}}
	statuses, err := cs.ListStatuses(ctx)
	if err != nil {
		return seen, err
	}
	for _, st := range statuses {
		if writesOneOf(st, layers) {
			seen.ingests[st.Ref] = st.Offset
		}
	}
	if len(chains) == 0 {
		return seen, nil
	}
	var keys []string
	err = sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if chains[extractionChain(info.Name)] {
			keys = append(keys, info.Name)
		}
		return nil
	}, "kind==active")
	if err != nil {
		return seen, err
	}
	for _, key := range keys {
		if size, ok := known.extracts[key]; ok {
			seen.extracts[key] = size
			continue
		}
		// An extraction grows on disk as its layer is applied.
		usage, err := sn.Usage(ctx, key)
		if err != nil {
			usage.Size = -1 // gone or committed since the walk: a change too
		}
		seen.extracts[key] = usage.Size
	}
	return seen, nil
}

// extractionChain is the chain ID in an unpacker's extraction snapshot key
// (snapshots.UnpackKeyFormat, "extract-%s %s" in containerd v1.7.35 and
// v2.4.2), or "" for any other key.
func extractionChain(key string) string {
	rest, ok := strings.CutPrefix(key, "extract-")
	if !ok {
		return ""
	}
	_, chain, _ := strings.Cut(rest, " ")
	return chain
}

// chainIDs are the chain IDs of target's layers for the node's platform,
// read from the content store, or nil while its manifest or config is not
// there yet.
func chainIDs(ctx context.Context, cs content.Provider, matcher platforms.MatchComparer, target string) map[string]bool {
	desc, err := localDescriptor(ctx, cs, target)
	if err != nil {
		return nil
	}
	manifest, err := images.Manifest(ctx, cs, desc, matcher)
	if err != nil {
		return nil
	}
	diffIDs, err := images.RootFS(ctx, cs, manifest.Config)
	if err != nil {
		return nil
	}
	chains := map[string]bool{}
	for _, id := range identity.ChainIDs(diffIDs) {
		chains[id.String()] = true
	}
	return chains
}

// localDescriptor describes the stored blob dgst, its media type read from
// the blob (an index or a manifest, OCI or Docker), since no image record
// for it exists before CRI's pull completes.
func localDescriptor(ctx context.Context, cs content.Provider, dgst string) (ocispec.Descriptor, error) {
	d, err := digest.Parse(dgst)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{Digest: d}
	blob, err := content.ReadBlob(ctx, cs, desc)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc.Size = int64(len(blob))
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(blob, &probe); err != nil {
		return ocispec.Descriptor{}, err
	}
	switch {
	case probe.MediaType != "":
		desc.MediaType = probe.MediaType
	case probe.Manifests != nil:
		desc.MediaType = ocispec.MediaTypeImageIndex
	default:
		desc.MediaType = ocispec.MediaTypeImageManifest
	}
	return desc, nil
}
