package noderuntime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/semaphore"

	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
)

// Containerd implements Runtime with the containerd client, in the
// namespace and snapshotter that kubelet's CRI uses.
type Containerd struct {
	Client      *containerd.Client
	Snapshotter string
	Platform    ocispec.Platform
	Matcher     platforms.MatchComparer
	// Keychain supplies registry credentials (pull secrets, ECR).
	Keychain authn.Keychain
	// CRI are the node's CRI image settings (nodeconfig), so pulls go and
	// land where kubelet's would: hosts directories (mirrors, pull-through
	// caches, private CAs) or the legacy registry settings, the node's
	// download limit, discard_unpacked_layers.
	CRI nodeconfig.Config
	// UnpackLimiter, when set, lets containerd unpack layers in parallel on
	// snapshotters that can rebase (overlayfs); others unpack in order.
	UnpackLimiter *semaphore.Weighted
	// DownloadLimiter bounds the layers the daemon fetches at once across
	// its pulls, as containerd 2.x's CRI bounds its own (v2.4.2
	// internal/cri/server/images/service.go downloadLimiter); nil: each
	// pull alone is bounded by CRI.MaxConcurrentDownloads.
	DownloadLimiter *semaphore.Weighted
	// Owner names the daemon (its pod) on the pull leases it makes.
	Owner string
	// Transfer pulls through containerd's Transfer service, as the node's
	// CRI does on containerd 2.x unless a setting makes it pull locally
	// (nodeconfig.Config.TransferRefusal).
	Transfer bool
}

// Status reads the image record of ref and checks its content and
// snapshots for the node's platform.
func (c *Containerd) Status(ctx context.Context, ref string) (ImageStatus, error) {
	rec, err := c.Client.ImageService().Get(ctx, ref)
	if errdefs.IsNotFound(err) {
		return ImageStatus{}, nil
	}
	if err != nil {
		return ImageStatus{}, err
	}
	return c.statusOf(ctx, rec)
}

// statusOf says what CRI would say of the record. CRI's image store takes
// an image as present when its record exists and the manifest and config
// for the platform can be read; the layer blobs need not be there
// (containerd v2.4.2 internal/cri/store/image/image.go getImage; v1.7.35
// pkg/cri/store/image/image.go getImage, whose Size walks only manifests).
// A container then starts from the unpacked snapshots. So warm is: record,
// manifest, config, snapshots; a node that discards unpacked layers, or
// content GC, may have dropped every layer blob.
func (c *Containerd) statusOf(ctx context.Context, rec images.Image) (ImageStatus, error) {
	st := ImageStatus{
		Present:    true,
		Digest:     rec.Target.Digest.String(),
		Pinned:     rec.Labels[LabelPinned] == "pinned",
		PinnedByUs: rec.Labels[LabelPinnedBy] == "true",
	}
	cs := c.Client.ContentStore()
	manifest, err := images.Manifest(ctx, cs, rec.Target, c.Matcher)
	if errdefs.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if _, err := cs.Info(ctx, manifest.Config.Digest); errdefs.IsNotFound(err) {
		return st, nil
	} else if err != nil {
		return st, err
	}
	st.Complete = true
	img := containerd.NewImageWithPlatform(c.Client, rec, c.Matcher)
	if st.Unpacked, err = img.IsUnpacked(ctx, c.Snapshotter); err != nil {
		return st, err
	}
	return st, nil
}

// Pull fetches and unpacks ref. Progress is measured from the content
// store: layers already committed count whole, active ingests by offset.
func (c *Containerd) Pull(ctx context.Context, ref string, opts PullOptions) (ImageStatus, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return ImageStatus{}, err
	}
	// The record as it is before the pull: its labels are carried over,
	// and its target is what a moved tag leaves behind.
	before, err := c.Client.ImageService().Get(ctx, ref)
	present := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return ImageStatus{}, err
	}
	labels := pullLabels(before.Labels, opts.Pin, present)

	transfer := c.Transfer
	if !transfer {
		// Before the sampler starts: a wait is not this pull stalling (the
		// caller's stall watch arms on the first report), and it lasts
		// only while the other pull visibly moves.
		c.waitForeignPull(ctx, opts.Target, opts.Layers)
	}
	// The sampler must be gone before Pull returns, or a late sample could
	// report progress for an image already declared Ready.
	done := make(chan struct{})
	var sampler sync.WaitGroup
	defer func() {
		close(done)
		sampler.Wait()
	}()
	if opts.Progress != nil {
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			if len(opts.Layers) > 0 {
				c.reportProgress(ctx, done, opts.Layers, opts.Progress)
			} else {
				c.reportUnplanned(ctx, done, opts.Progress)
			}
		}()
	}

	ctx, releaseLease, err := c.withPullLease(ctx)
	if err != nil {
		return ImageStatus{}, err
	}
	defer releaseLease()
	var img containerd.Image
	if transfer {
		img, err = c.pullWithTransfer(ctx, named, labels)
	} else {
		img, err = c.Client.Pull(ctx, named.String(), c.clientPullOpts(ctx, labels)...)
	}
	if err != nil {
		if rangeRefused(err) {
			// containerd resumes a half-written blob with a Range request;
			// a registry or proxy that refuses it would fail every retry,
			// the daemon's and kubelet's alike. Start those blobs again.
			err = errors.Join(err, c.abortIngests(ctx, opts.Layers))
		}
		return ImageStatus{}, err
	}
	// The Transfer service sets labels only on a record it creates.
	if err := c.upsert(ctx, images.Image{Name: named.String(), Target: img.Target(), Labels: ours(labels)}); err != nil {
		return ImageStatus{}, err
	}
	if err := c.writeCRIRecords(ctx, named, img, ours(labels)); err != nil {
		return ImageStatus{}, err
	}
	if old := before.Target.Digest; present && old != img.Target().Digest {
		if err := c.retire(ctx, old); err != nil {
			return ImageStatus{}, fmt.Errorf("%s moved to %s; releasing %s: %w", ref, img.Target().Digest, old, err)
		}
	}
	st, err := c.Status(ctx, named.String())
	if err != nil {
		return st, err
	}
	if !st.Warm() {
		return st, fmt.Errorf("pulled %s but it is not complete and unpacked for %s", ref, platforms.Format(c.Platform))
	}
	return st, nil
}

// clientPullOpts pull as the node's CRI does with containerd's client:
// unpacked into its snapshotter, with labels.
func (c *Containerd) clientPullOpts(ctx context.Context, labels map[string]string) []containerd.RemoteOpt {
	pullOpts := []containerd.RemoteOpt{
		containerd.WithResolver(c.resolver(ctx)),
		containerd.WithPlatformMatcher(c.Matcher),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(c.Snapshotter),
		containerd.WithPullLabels(labels),
		// CRI's bound on one pull's fetches (v1.7.35
		// pkg/cri/server/image_pull.go, v2.4.2 the same): without it the
		// client fetches every layer at once.
		containerd.WithMaxConcurrentDownloads(max(c.CRI.MaxConcurrentDownloads, 1)),
	}
	if c.DownloadLimiter != nil {
		pullOpts = append(pullOpts, containerd.WithDownloadLimiter(c.DownloadLimiter))
	}
	unpackOpts := []containerd.UnpackOpt{containerd.WithUnpackApplyOpts(diff.WithSyncFs(c.CRI.ImagePullWithSyncFs))}
	if c.UnpackLimiter != nil {
		unpackOpts = append(unpackOpts, containerd.WithUnpackLimiter(c.UnpackLimiter))
	}
	pullOpts = append(pullOpts, containerd.WithUnpackOpts(unpackOpts))
	if c.CRI.DiscardUnpackedLayers {
		// The same child-label filter CRI uses (containerd v2.4.2
		// internal/cri/server/images/image_pull.go, v1.7.35
		// pkg/cri/server/image_pull.go): no gc.ref labels to layers.
		pullOpts = append(pullOpts, containerd.WithChildLabelMap(images.ChildGCLabelsFilterLayers))
	}
	return pullOpts
}

// pullLabels are the labels the pulled repo:tag record gets: CRI's managed
// label and ours, over those the record already has (existing). containerd's
// client replaces every label of an existing record when it pulls (v2.4.2
// client/pull.go createNewImage updates without field paths), so the labels
// others set are carried over here.
func pullLabels(existing map[string]string, pin, present bool) map[string]string {
	labels := map[string]string{}
	for k, v := range existing {
		labels[k] = v
	}
	labels[labelCRIManaged] = "managed"
	if pin {
		labels[LabelPinned] = "pinned"
		labels[LabelPinnedBy] = "true"
	}
	if !present {
		labels[LabelAdded] = "true"
	}
	return labels
}

// ours keeps the labels this daemon sets (CRI's and winimage's).
func ours(labels map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{labelCRIManaged, LabelPinned, LabelPinnedBy, LabelAdded} {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// writeCRIRecords writes the other records CRI's PullImage writes beside
// repo:tag: repo@digest and the image id (the config digest), each with
// CRI's managed label (containerd v2.4.2 internal/cri/server/images
// image_pull.go PullImage and createOrUpdateImageReference; v1.7.35
// pkg/cri/server/image_pull.go the same). kubelet finds the image by any of
// them, and with all three present CRI's own image-event handler has
// nothing to add.
func (c *Containerd) writeCRIRecords(ctx context.Context, named reference.Named, img containerd.Image, labels map[string]string) error {
	config, err := img.Config(ctx)
	if err != nil {
		return fmt.Errorf("config of %s: %w", named, err)
	}
	names := []string{config.Digest.String()}
	if _, tagged := named.(reference.Tagged); tagged {
		names = append(names, reference.TrimNamed(named).String()+"@"+img.Target().Digest.String())
	}
	for _, name := range names {
		if err := c.upsert(ctx, images.Image{Name: name, Target: img.Target(), Labels: labels}); err != nil {
			return err
		}
	}
	return nil
}

// upsert creates an image record, or points an existing one at img's
// target and sets img's labels on it, leaving every other label as it is.
func (c *Containerd) upsert(ctx context.Context, img images.Image) error {
	is := c.Client.ImageService()
	if _, err := is.Create(ctx, img); err == nil || !errdefs.IsAlreadyExists(err) {
		return err
	}
	paths := []string{"target"}
	for k := range img.Labels {
		paths = append(paths, "labels."+k)
	}
	_, err := is.Update(ctx, img, paths...)
	return err
}

// rangeRefused reports whether the registry refused to resume a blob.
func rangeRefused(err error) bool {
	return strings.Contains(err.Error(), "416 Requested Range Not Satisfiable")
}

// abortIngests drops containerd's half-written ingests of these layers, so
// the next pull fetches them from the start.
func (c *Containerd) abortIngests(ctx context.Context, layers map[string]int64) error {
	cs := c.Client.ContentStore()
	statuses, err := cs.ListStatuses(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range statuses {
		if writesOneOf(st, layers) {
			if err := cs.Abort(ctx, st.Ref); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// writesOneOf reports whether an active ingest is writing one of layers.
func writesOneOf(st content.Status, layers map[string]int64) bool {
	for _, d := range ingestDigests(st) {
		if _, ok := layers[d]; ok {
			return true
		}
	}
	return false
}

// ingestDigests are the digests an active ingest may be writing: the
// expected digest when set, and the one in its ref ("layer-sha256:…").
func ingestDigests(st content.Status) []string {
	var out []string
	if st.Expected != "" {
		out = append(out, st.Expected.String())
	}
	if _, d, ok := strings.Cut(st.Ref, "-"); ok {
		out = append(out, d)
	}
	return out
}

// Permanent reports whether a pull error will not go away by retrying:
// the reference, the credentials or the platform are wrong.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errdefs.IsNotFound(err) || errdefs.IsInvalidArgument(err) || errdefs.IsPermissionDenied(err) || errors.Is(err, docker.ErrInvalidAuthorization) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"401 Unauthorized", "403 Forbidden", "404 Not Found", "not found", "no match for platform", "invalid reference", "unauthorized", "denied"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Containerd is the Runtime the daemon uses on a node.
var _ Runtime = (*Containerd)(nil)
