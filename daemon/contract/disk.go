package contract

// The disk lines both sides must agree on: the plugin writes the daemon's
// --disk-threshold, the daemon enforces it.
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
)
