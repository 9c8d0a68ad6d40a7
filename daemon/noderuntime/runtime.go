package noderuntime

import "context"

// Labels the daemon puts on images.
const (
	// LabelPinned is the CRI plugin's pin label: kubelet's image GC never
	// removes an image that carries it.
	LabelPinned = "io.cri-containerd.pinned"
	// LabelPinnedBy marks the pins this daemon made, so that only those are
	// ever removed again.
	LabelPinnedBy = "winimage.io/pinned"
	// LabelAdded marks images that were not on the node before the daemon
	// pulled them (candidates for removal on uninstall).
	LabelAdded = "winimage.io/added"
	// labelCRIManaged is what CRI puts on the images it pulls.
	labelCRIManaged = "io.cri-containerd.image"
)

// ImageStatus is what the runtime holds of one reference.
type ImageStatus struct {
	Present bool
	// Digest is the digest the reference points at (an index for
	// multi-platform images).
	Digest string
	// Complete means the manifest and config for the node's platform are
	// in the content store (each verified against its digest when it was
	// written): what CRI needs to list the image. Layer blobs may be gone
	// once unpacked.
	Complete bool
	// Unpacked means the node's snapshotter has the image's layers.
	Unpacked bool
	Pinned   bool
	// PinnedByUs is true only for pins this daemon made.
	PinnedByUs bool
}

// Warm reports whether kubelet would start a container from the image
// without pulling.
func (s ImageStatus) Warm() bool { return s.Present && s.Complete && s.Unpacked }

// Progress is called during a pull with the layer bytes fetched so far and
// the total known so far; unpacking is true once every layer is fetched.
type Progress func(done, total int64, unpacking bool)

// PullOptions tune one pull.
type PullOptions struct {
	Pin bool
	// Layers are the expected layer digests and sizes (from the registry
	// plan), for progress.
	Layers map[string]int64
	// Target is the digest the registry plan resolved ref to, by which a
	// pull of the same image already under way is recognised.
	Target   string
	Progress Progress
}

// Runtime is the daemon's one boundary to the node's container runtime.
type Runtime interface {
	Status(ctx context.Context, ref string) (ImageStatus, error)
	// Pull fetches and unpacks ref for the node's platform, labels it, and
	// returns its status once verified.
	Pull(ctx context.Context, ref string, opts PullOptions) (ImageStatus, error)
	// Pin adds the pin labels to an image that is already present.
	Pin(ctx context.Context, ref string) error
	// HaveLayers reports which of these layer blobs the node already holds
	// (shared base layers), so a pull's disk need counts only the rest.
	HaveLayers(ctx context.Context, digests []string) (map[string]bool, error)
	// Unpin removes the pins this daemon made, and with remove also deletes
	// the images it added that no container uses. It returns what it did.
	Unpin(ctx context.Context, remove bool) (unpinned, removed []string, err error)
}
