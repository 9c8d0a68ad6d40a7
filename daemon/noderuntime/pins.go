package noderuntime

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// records are the tag and digest records that point at the same target as ref.
func (c *Containerd) records(ctx context.Context, ref string) ([]images.Image, error) {
	rec, err := c.Client.ImageService().Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	all, err := c.Client.ImageService().List(ctx, "target.digest=="+rec.Target.Digest.String())
	if err != nil {
		return nil, err
	}
	return all, nil
}

// Pin labels an existing image (both its records) as pinned by us, unless
// something else pinned it already: then it stays theirs to unpin.
func (c *Containerd) Pin(ctx context.Context, ref string) error {
	recs, err := c.records(ctx, ref)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Labels[LabelPinned] == "pinned" {
			continue
		}
		if rec.Labels == nil {
			rec.Labels = map[string]string{}
		}
		rec.Labels[LabelPinned] = "pinned"
		rec.Labels[LabelPinnedBy] = "true"
		if _, err := c.Client.ImageService().Update(ctx, rec, "labels."+LabelPinned, "labels."+LabelPinnedBy); err != nil {
			return err
		}
	}
	return nil
}

// Unpin removes our pins; with remove, it also deletes the images we added
// that no container uses.
func (c *Containerd) Unpin(ctx context.Context, remove bool) (unpinned, removed []string, err error) {
	is := c.Client.ImageService()
	ours, err := is.List(ctx, fmt.Sprintf(`labels."%s"==true`, LabelPinnedBy))
	if err != nil {
		return nil, nil, err
	}
	for _, rec := range ours {
		deleted, err := c.releaseRecord(ctx, rec, remove)
		if err != nil {
			return unpinned, removed, err
		}
		if deleted {
			removed = append(removed, rec.Name)
		} else {
			unpinned = append(unpinned, rec.Name)
		}
	}
	return unpinned, removed, nil
}

// retire releases what this daemon held of the image a moved tag pointed
// at before (old): with no tag left pointing there, its repo@digest and id
// records lose our pins, and those we added go unless a container uses
// them. A multi-GB Windows image is not kept pinned forever by a tag that
// moved on. Pins of other tools, and records another tag still needs, stay.
func (c *Containerd) retire(ctx context.Context, old digest.Digest) error {
	recs, err := c.Client.ImageService().List(ctx, "target.digest=="+old.String())
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if isTagName(rec.Name) {
			return nil // another tag still names the old image
		}
	}
	for _, rec := range recs {
		if rec.Labels[LabelPinnedBy] != "true" {
			continue
		}
		if _, err := c.releaseRecord(ctx, rec, true); err != nil {
			return err
		}
	}
	return nil
}

// isTagName tells a repo:tag record from the repo@digest and image-id
// (sha256:…) records CRI writes beside it.
func isTagName(name string) bool {
	if strings.HasPrefix(name, "sha256:") {
		return false
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return false
	}
	_, digested := named.(reference.Digested)
	return !digested
}

// releaseRecord removes our pin from rec, or with remove deletes it when we
// added it and no container uses it. It reports whether it deleted.
func (c *Containerd) releaseRecord(ctx context.Context, rec images.Image, remove bool) (deleted bool, err error) {
	is := c.Client.ImageService()
	if remove && rec.Labels[LabelAdded] == "true" {
		used, err := c.Client.Containers(ctx, fmt.Sprintf(`image==%q`, rec.Name))
		if err != nil {
			return false, err
		}
		if len(used) == 0 {
			if err := is.Delete(ctx, rec.Name); err != nil && !errdefs.IsNotFound(err) {
				return false, err
			}
			return true, nil
		}
	}
	delete(rec.Labels, LabelPinned)
	delete(rec.Labels, LabelPinnedBy)
	_, err = is.Update(ctx, rec, "labels."+LabelPinned, "labels."+LabelPinnedBy)
	return false, err
}
