// Package containerdversion reads a node's containerd version and says what
// follows from it for warmed images. Standard library only, so the audit
// can apply the same rules to the versions nodes report.
package containerdversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is major.minor.patch of containerd.
type Version struct{ Major, Minor, Patch int }

// Parse reads "containerd://1.7.27", "v2.1.4" or "1.7.9-eks-1"; anything
// after the patch number is ignored.
func Parse(s string) (Version, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "containerd://"), "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("containerd version %q is not major.minor[.patch]", s)
	}
	var nums [3]int
	for i, p := range parts {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			return Version{}, fmt.Errorf("containerd version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less orders versions.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// PinsFrom is the first containerd whose CRI takes the pin label
// (io.cri-containerd.pinned) into account for an image that is already
// present when the label is set; before it, kubelet's image GC may remove a
// warmed image as if it were not pinned.
var PinsFrom = Version{1, 7, 10}

// PinsHonoured reports whether a node on version v keeps pinned images from
// kubelet's image GC.
func PinsHonoured(v Version) bool { return !v.Less(PinsFrom) }
