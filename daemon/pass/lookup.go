package pass

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
)

// defaultLookups bounds registry lookups in flight per node.
const defaultLookups = 4

// lookup asks the registry what a pass needs to know of ref. An image warm
// on the node needs only whether it moved: nothing to ask for a reference
// by digest, the tag's digest (a HEAD, which registries that meter pulls
// do not count) for a tag; the manifests only when that digest differs.
// An image not warm is planned in full.
func (w *Warmer) lookup(ctx context.Context, ref string) (Plan, error) {
	if st, err := w.Runtime.Status(ctx, ref); err == nil && st.Warm() {
		if byDigest(ref) {
			return Plan{Digest: st.Digest}, nil
		}
		d, err := w.Planner.Digest(ctx, ref)
		if err != nil || d == st.Digest {
			return Plan{Digest: d}, err
		}
	}
	return w.Planner.Plan(ctx, ref)
}

// byDigest: ref names one manifest, which cannot move.
func byDigest(ref string) bool {
	_, err := name.NewDigest(ref)
	return err == nil
}
