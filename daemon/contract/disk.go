package contract

// The disk figures both sides must agree on: the plugin writes the daemon's
// --disk-threshold and the daemon enforces it; bake sizes AMI volumes and the
// daemon guards node volumes with the same kubelet lines and layer ratios.
const (
	// EvictionDiskLine is the fraction of the image volume at which kubelet
	// on Windows evicts pods: its hard eviction imagefs.available 15%
	// (kubernetes v1.37.2 pkg/kubelet/eviction/defaults_windows.go), the
	// same 85% at which its image GC starts by default. Pinned images are
	// never reclaimed, so a warm that reached it would put the node under
	// disk pressure with nothing for GC to free.
	EvictionDiskLine = 0.85
	// DefaultDiskThreshold is how full the daemon may make the volume: five
	// points below the eviction line, kubelet's default image GC low
	// threshold (80%), where its GC stops deleting.
	DefaultDiskThreshold = 0.80
	// ImageGCHighThresholdPercent is kubelet's default (k8s.io/kubelet
	// v0.37.2 config/v1beta1 types.go): above it kubelet garbage-collects
	// images, which it cannot do to pinned (baked or warmed) ones, so the
	// disk they fill is never given back and the node ends in DiskPressure.
	ImageGCHighThresholdPercent = 85

	// OnDiskRatio is a Windows layer's size once extracted over its
	// compressed size, about 2.2× for servercore by Microsoft's figures
	// (the project's shared/notes/eks-windows-facts.md); older releases ran
	// nearer 3× (ltsc2019: 1.9 GB compressed, 5.7 GB on disk). bake plans
	// with it (its --on-disk-ratio default), and a plan that guessed low is
	// corrected by that flag.
	OnDiskRatio = 2.2
	// GuardOnDiskRatio is the ratio the daemon's disk guard reserves for a
	// pull, above OnDiskRatio: the guard has no flag to correct it on a
	// node, and one that guessed low would fill the disk the guard exists
	// to keep.
	GuardOnDiskRatio = 2.5
)
