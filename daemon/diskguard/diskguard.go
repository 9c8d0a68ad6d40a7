// Package diskguard keeps the daemon from filling the node's disk. Pinned
// images are never reclaimed by kubelet's image GC, so the daemon stays a
// margin below the line at which kubelet evicts pods
// (contract.EvictionDiskLine), and counts the pulls already under way.
package diskguard

import (
	"fmt"
	"sync"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// Guard checks the volume that holds containerd's root.
type Guard struct {
	Path string
	// Threshold is the highest fraction of the volume the daemon may fill.
	Threshold float64
	// Expansion estimates unpacked bytes from compressed ones.
	Expansion float64
	// usage is swappable for tests.
	usage func(path string) (used, total uint64, err error)

	mu sync.Mutex
	// reserved are the unpacked bytes of the pulls under way. They are
	// held until a pull ends, so what a pull has already written counts
	// twice meanwhile: the guard errs on the side of the disk.
	reserved uint64
}

// New returns a guard for the volume of path; threshold 0 is
// contract.DefaultDiskThreshold.
func New(path string, threshold float64) *Guard {
	if threshold <= 0 {
		threshold = contract.DefaultDiskThreshold
	}
	return &Guard{Path: path, Threshold: threshold, Expansion: contract.GuardOnDiskRatio, usage: volumeUsage}
}

// Reserve checks that pulling an image of compressed size (0 when unknown:
// then only the volume as it is) keeps the volume under the threshold,
// counting the pulls already reserved, and reserves its unpacked bytes
// until release is called. A volume it cannot read refuses every pull: a
// wrong or missing containerd root must not turn the guard off.
func (g *Guard) Reserve(size int64) (release func(), err error) {
	used, total, err := g.usage(g.Path)
	if err != nil {
		return nil, fmt.Errorf("not pulled: the disk guard cannot read the volume of containerd's root %s (set --containerd-root): %w", g.Path, err)
	}
	if total == 0 {
		return nil, fmt.Errorf("not pulled: the disk guard reads a volume of 0 bytes at %s", g.Path)
	}
	need := uint64(float64(max(size, 0)) * g.Expansion)
	g.mu.Lock()
	defer g.mu.Unlock()
	after := float64(used+g.reserved+need) / float64(total)
	if after > g.Threshold {
		under := ""
		if g.reserved > 0 {
			under = fmt.Sprintf(" with the %d MiB of the pulls under way", g.reserved>>20)
		}
		return nil, fmt.Errorf("not pulled: about %d MiB unpacked would fill %s to %.0f%%%s, above the daemon's %.0f%% (kubelet evicts pods at %.0f%%)",
			need>>20, g.Path, 100*after, under, 100*g.Threshold, 100*contract.EvictionDiskLine)
	}
	g.reserved += need
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.reserved -= need
			g.mu.Unlock()
		})
	}, nil
}
