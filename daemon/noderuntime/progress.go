package noderuntime

import (
	"context"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// sampleEvery is how often a pull's progress is read from the content
// store.
const sampleEvery = 250 * time.Millisecond

// sampleUntil calls sample every sampleEvery until done is closed or ctx
// ends.
func sampleUntil(ctx context.Context, done <-chan struct{}, sample func()) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			sample()
		}
	}
}

// reportProgress reports a planned pull: its layers' bytes, counted from
// the active ingests' offsets and the blobs already committed.
func (c *Containerd) reportProgress(ctx context.Context, done <-chan struct{}, layers map[string]int64, progress Progress) {
	cs := c.Client.ContentStore()
	sampleUntil(ctx, done, func() {
		active := map[string]int64{}
		if statuses, err := cs.ListStatuses(ctx); err == nil {
			for _, s := range statuses {
				for _, d := range ingestDigests(s) {
					active[d] = s.Offset
				}
			}
		}
		var fetched, total int64
		complete := true
		for dgst, size := range layers {
			total += size
			if off, ok := active[dgst]; ok {
				fetched += off
				complete = false
				continue
			}
			if _, err := cs.Info(ctx, digest.Digest(dgst)); err == nil {
				fetched += size
			} else {
				complete = false
			}
		}
		progress(fetched, total, complete)
	})
}

// reportUnplanned reports a pull whose layers the planner could not name
// (the registry did not answer it): bytes are what every ingest seen
// during the pull has written, which grows while anything downloads; once
// ingests were seen and none is left, the layers are unpacking. So the
// caller's stall watch still cancels a pull the registry stops feeding,
// and holds back while layers unpack.
func (c *Containerd) reportUnplanned(ctx context.Context, done <-chan struct{}, progress Progress) {
	cs := c.Client.ContentStore()
	written := map[string]int64{}
	sampleUntil(ctx, done, func() {
		statuses, err := cs.ListStatuses(ctx)
		if err != nil {
			return
		}
		for _, s := range statuses {
			written[s.Ref] = max(written[s.Ref], s.Offset)
		}
		var sum int64
		for _, n := range written {
			sum += n
		}
		progress(sum, 0, len(written) > 0 && len(statuses) == 0)
	})
}

// HaveLayers implements Runtime from the content store. A node that
// discards unpacked layers keeps no blobs, so there every layer counts as
// missing: the guard then over-counts, on the disk's side.
func (c *Containerd) HaveLayers(ctx context.Context, digests []string) (map[string]bool, error) {
	cs := c.Client.ContentStore()
	have := map[string]bool{}
	for _, d := range digests {
		dgst, err := digest.Parse(d)
		if err != nil {
			continue
		}
		_, err = cs.Info(ctx, dgst)
		switch {
		case err == nil:
			have[d] = true
		case !errdefs.IsNotFound(err):
			return nil, err
		}
	}
	return have, nil
}
