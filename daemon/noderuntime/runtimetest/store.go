package runtimetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// Store is the image state a fake runtime keeps as containerd keeps it:
// the images present, the pins and which are ours, the images the daemon
// added, the layer blobs held, and the references the registry lacks.
// A fake embeds it for Status, Pin, HaveLayers and Unpin and brackets its
// own Pull (timing, failures, concurrency checks) with Start and Finish.
type Store struct {
	mu      sync.Mutex
	images  map[string]noderuntime.ImageStatus
	added   map[string]bool
	layers  map[string]bool
	missing map[string]bool
}

// NewStore is an empty node whose registry has every reference except
// missing.
func NewStore(missing ...string) *Store {
	s := &Store{images: map[string]noderuntime.ImageStatus{}, added: map[string]bool{}, layers: map[string]bool{}, missing: map[string]bool{}}
	for _, m := range missing {
		s.missing[m] = true
	}
	return s
}

// Put places an image on the node as something other than the daemon did
// (the AMI, CRI): Unpin never removes it.
func (s *Store) Put(ref string, st noderuntime.ImageStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.images[ref] = st
}

// HoldLayers puts layer blobs on the node (a shared base already there).
func (s *Store) HoldLayers(digests ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range digests {
		s.layers[d] = true
	}
}

// Status is what the node holds of ref.
func (s *Store) Status(_ context.Context, ref string) (noderuntime.ImageStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.images[ref], nil
}

// Start is what a pull meets before it fetches anything: a context already
// done, or a registry without ref (a not-found error, which
// noderuntime.Permanent tells from a transient one as containerd's is).
func (s *Store) Start(ctx context.Context, ref string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.missing[ref] {
		return fmt.Errorf("%s: %w", ref, errdefs.ErrNotFound)
	}
	return nil
}

// Finish records a pull of ref that succeeded and returns the image's
// status: warm, its layers held, pinned by us when asked, other pins kept,
// and added when it was not on the node before.
func (s *Store) Finish(ref string, opts noderuntime.PullOptions) noderuntime.ImageStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	before, present := s.images[ref]
	if !present || !before.Present {
		s.added[ref] = true
	}
	st := noderuntime.ImageStatus{Present: true, Complete: true, Unpacked: true, Digest: "sha256:" + ref, Pinned: before.Pinned, PinnedByUs: before.PinnedByUs}
	if opts.Pin {
		st.Pinned, st.PinnedByUs = true, true
	}
	for d := range opts.Layers {
		s.layers[d] = true
	}
	s.images[ref] = st
	return st
}

// Pin pins a present image as ours, unless another tool pinned it first.
func (s *Store) Pin(_ context.Context, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.images[ref]
	if !ok || !st.Present {
		return fmt.Errorf("pin %s: %w", ref, errdefs.ErrNotFound)
	}
	if !st.Pinned {
		st.Pinned, st.PinnedByUs = true, true
	}
	s.images[ref] = st
	return nil
}

// HaveLayers says which of digests the node holds.
func (s *Store) HaveLayers(_ context.Context, digests []string) (map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := map[string]bool{}
	for _, d := range digests {
		have[d] = s.layers[d]
	}
	return have, nil
}

// Unpin releases our pins and, with remove, deletes the images we added.
func (s *Store) Unpin(_ context.Context, remove bool) (unpinned, removed []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ref := range slices.Sorted(maps.Keys(s.images)) {
		st := s.images[ref]
		if !st.PinnedByUs {
			continue
		}
		if remove && s.added[ref] {
			delete(s.images, ref)
			delete(s.added, ref)
			removed = append(removed, ref)
			continue
		}
		st.Pinned, st.PinnedByUs = false, false
		s.images[ref] = st
		unpinned = append(unpinned, ref)
	}
	return unpinned, removed, nil
}
