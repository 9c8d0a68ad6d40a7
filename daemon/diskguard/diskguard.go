// Package diskguard keeps the daemon from filling the node's disk: kubelet
// starts garbage-collecting images at its high threshold (85% by default),
// and a warm that crosses it would have kubelet delete images again.
package diskguard

import "fmt"

// Guard checks the volume that holds containerd's root.
type Guard struct {
	Path string
	// Threshold is the highest fraction of the volume the daemon may fill.
	Threshold float64
	// Expansion estimates unpacked bytes from compressed ones.
	Expansion float64
	// usage is swappable for tests.
	usage func(path string) (used, total uint64, err error)
}

// New returns a guard with kubelet's default image GC high threshold.
func New(path string, threshold float64) *Guard {
	if threshold <= 0 {
		threshold = 0.85
	}
	return &Guard{Path: path, Threshold: threshold, Expansion: 2.5, usage: volumeUsage}
}

// Check returns an error if pulling an image of compressed size would take
// the volume above the threshold.
func (g *Guard) Check(size int64) error {
	used, total, err := g.usage(g.Path)
	if err != nil {
		return fmt.Errorf("disk guard: %w", err)
	}
	if total == 0 {
		return nil
	}
	need := uint64(float64(size) * g.Expansion)
	after := float64(used+need) / float64(total)
	if after > g.Threshold {
		return fmt.Errorf("not pulled: about %d MiB unpacked would fill %s to %.0f%%, above the %.0f%% at which kubelet starts deleting images", need>>20, g.Path, 100*after, 100*g.Threshold)
	}
	return nil
}
