// Package runtimetest is the conformance suite of noderuntime.Runtime:
// what the warmer and the agent rely on from the node's container runtime.
// The end-to-end tests run it on Containerd against real containerd of
// every line the rig builds, and the unit tests run it on each fake they
// warm with, so a fake cannot drift from what containerd does (as spegel's
// storetest holds its fake store to its containerd one).
package runtimetest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// Subject is a runtime under test, holding none of its images yet, and
// what its registry serves.
type Subject struct {
	Runtime noderuntime.Runtime
	// Ref and Other are images the registry serves, as CRI names them.
	Ref, Other string
	// Layers are Ref's layer blobs for the node's platform, digest to size.
	Layers map[string]int64
	// Missing is a reference the registry does not have.
	Missing string
}

// Run runs the suite; newSubject makes a fresh subject for each case.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, s Subject)
	}{
		{"an image never pulled is absent", absentImage},
		{"a pinned pull is warm and pinned by us, as Status says after", pinnedPull},
		{"a pull reports no progress past its total and none after it returns", progressBounded},
		{"a pull without a pin or a progress callback leaves it unpinned", plainPull},
		{"Pin pins an image that is present", pinPresent},
		{"a missing image fails every pull, permanently, and leaves nothing", missingImage},
		{"a cancelled pull fails and leaves the image cold", cancelledPull},
		{"HaveLayers says which layer blobs the node holds", haveLayers},
		{"Unpin releases our pins, and with remove our images", unpin},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, newSubject(t)) })
	}
}

func absentImage(t *testing.T, s Subject) {
	st, err := s.Runtime.Status(t.Context(), s.Ref)
	if err != nil || st.Present || st.Warm() || st.Pinned {
		t.Fatalf("Status before any pull: %+v, %v; want absent and no error", st, err)
	}
}

func pull(t *testing.T, s Subject, ref string, opts noderuntime.PullOptions) noderuntime.ImageStatus {
	t.Helper()
	st, err := s.Runtime.Pull(t.Context(), ref, opts)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return st
}

func pinnedPull(t *testing.T, s Subject) {
	st := pull(t, s, s.Ref, noderuntime.PullOptions{Pin: true, Layers: s.Layers})
	if !st.Warm() || !st.Pinned || !st.PinnedByUs || !strings.HasPrefix(st.Digest, "sha256:") {
		t.Fatalf("after a pinned pull: %+v; want warm, pinned by us, with a digest", st)
	}
	again, err := s.Runtime.Status(t.Context(), s.Ref)
	if err != nil || again != st {
		t.Fatalf("Status after the pull: %+v, %v; the pull said %+v", again, err, st)
	}
}

func progressBounded(t *testing.T, s Subject) {
	var mu sync.Mutex
	returned := false
	var bad []string
	progress := func(done, total int64, _ bool) {
		mu.Lock()
		defer mu.Unlock()
		if returned {
			bad = append(bad, "a report after Pull returned")
		}
		if done < 0 || (total > 0 && done > total) {
			bad = append(bad, "done outside [0, total]")
		}
	}
	pull(t, s, s.Ref, noderuntime.PullOptions{Pin: true, Layers: s.Layers, Progress: progress})
	mu.Lock()
	returned = true
	mu.Unlock()
	// A sampler that outlived Pull would report now.
	if _, err := s.Runtime.Status(t.Context(), s.Ref); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("progress: %s", strings.Join(slices.Compact(bad), "; "))
	}
}

func plainPull(t *testing.T, s Subject) {
	st := pull(t, s, s.Other, noderuntime.PullOptions{})
	if !st.Warm() || st.Pinned || st.PinnedByUs {
		t.Fatalf("after a pull without a pin: %+v; want warm and unpinned", st)
	}
}

func pinPresent(t *testing.T, s Subject) {
	pull(t, s, s.Other, noderuntime.PullOptions{})
	if err := s.Runtime.Pin(t.Context(), s.Other); err != nil {
		t.Fatal(err)
	}
	st, err := s.Runtime.Status(t.Context(), s.Other)
	if err != nil || !st.Warm() || !st.Pinned || !st.PinnedByUs {
		t.Fatalf("after Pin: %+v, %v; want warm and pinned by us", st, err)
	}
}

func missingImage(t *testing.T, s Subject) {
	for i := range 2 {
		_, err := s.Runtime.Pull(t.Context(), s.Missing, noderuntime.PullOptions{Pin: true})
		if err == nil || !noderuntime.Permanent(err) {
			t.Fatalf("pull %d of a missing image: %v; want a permanent error", i+1, err)
		}
	}
	if st, err := s.Runtime.Status(t.Context(), s.Missing); err != nil || st.Present {
		t.Fatalf("after failed pulls: %+v, %v; want absent", st, err)
	}
}

func cancelledPull(t *testing.T, s Subject) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Runtime.Pull(ctx, s.Ref, noderuntime.PullOptions{Pin: true}); err == nil {
		t.Fatal("a pull with a cancelled context succeeded")
	}
	if st, err := s.Runtime.Status(t.Context(), s.Ref); err != nil || st.Warm() {
		t.Fatalf("after a cancelled pull: %+v, %v; want cold", st, err)
	}
}

func haveLayers(t *testing.T, s Subject) {
	digests := slices.Sorted(maps.Keys(s.Layers))
	if len(digests) == 0 {
		t.Fatal("the subject names no layers of Ref")
	}
	have, err := s.Runtime.HaveLayers(t.Context(), digests)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range digests {
		if have[d] {
			t.Fatalf("HaveLayers before any pull: %s held", d)
		}
	}
	pull(t, s, s.Ref, noderuntime.PullOptions{Pin: true, Layers: s.Layers})
	if have, err = s.Runtime.HaveLayers(t.Context(), digests); err != nil {
		t.Fatal(err)
	}
	for _, d := range digests {
		if !have[d] {
			t.Fatalf("HaveLayers after the pull: %s not held (%v)", d, have)
		}
	}
}

func unpin(t *testing.T, s Subject) {
	pull(t, s, s.Ref, noderuntime.PullOptions{Pin: true, Layers: s.Layers})
	unpinned, removed, err := s.Runtime.Unpin(t.Context(), false)
	if err != nil || !slices.Contains(unpinned, s.Ref) || len(removed) != 0 {
		t.Fatalf("Unpin: unpinned %v, removed %v, %v; want %s unpinned, nothing removed", unpinned, removed, err, s.Ref)
	}
	if st, err := s.Runtime.Status(t.Context(), s.Ref); err != nil || !st.Warm() || st.Pinned || st.PinnedByUs {
		t.Fatalf("after Unpin: %+v, %v; want warm and unpinned", st, err)
	}
	if err := s.Runtime.Pin(t.Context(), s.Ref); err != nil {
		t.Fatal(err)
	}
	_, removed, err = s.Runtime.Unpin(t.Context(), true)
	if err != nil || !slices.Contains(removed, s.Ref) {
		t.Fatalf("Unpin with remove: removed %v, %v; want %s, which the daemon added", removed, err, s.Ref)
	}
	if st, err := s.Runtime.Status(t.Context(), s.Ref); err != nil || st.Present {
		t.Fatalf("after Unpin with remove: %+v, %v; want absent", st, err)
	}
}
