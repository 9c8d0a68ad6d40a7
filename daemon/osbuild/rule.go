package osbuild

import (
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/containerdversion"
)

// Rule is how a node's containerd chooses among the index entries that
// match it: the CRI plugin pulls with platforms.Default(), whose order
// changed between the containerd lines EKS ships on Windows.
type Rule int

const (
	// HighestOSVersion: containerd 2.x. platforms v1.0.0-rc.2 (what
	// containerd v2.1.9 requires) defaults_windows.go Default() is a
	// windowsMatchComparer whose Less puts the greater os.version first.
	// A 2.x CRI pull through the Transfer service filters with
	// platforms.Ordered(DefaultSpec()) instead (v2.1.9
	// internal/cri/server/images/image_pull.go pullImageWithTransferService,
	// core/transfer/image/imagestore.go ImageFilter), which orders no two
	// matches, so every matching entry is fetched and unpacked
	// (core/unpack/unpacker.go); but the image CRI reports, and so the one
	// the node runs, is read through its image store built with
	// platforms.Default() (internal/cri/server/images/service.go,
	// internal/cri/store/image/image.go getImage): the highest.
	HighestOSVersion Rule = iota
	// FirstMatch: containerd 1.7. platforms v0.2.1 (what containerd v1.7.35
	// requires) defaults_windows.go Default() is Only(DefaultSpec()), an
	// orderedPlatformComparer whose Less never orders two matches, so the
	// stable sort keeps the index order and the first match is pulled.
	FirstMatch
)

func (r Rule) String() string {
	if r == FirstMatch {
		return "first matching entry (containerd 1.x)"
	}
	return "highest os.version (containerd 2.x)"
}

// RuleOf is the rule of a node's containerd from its version as the Node
// reports it (containerd://1.7.27) or as containerd does (v2.1.4, 1.7.27).
// An unknown version gets the current rule.
func RuleOf(containerdVersion string) Rule {
	if v, err := containerdversion.Parse(containerdVersion); err == nil && v.Major < 2 {
		return FirstMatch
	}
	return HighestOSVersion
}

// MatcherFor is the platform matcher of a node's containerd for host under
// rule, for pulls made on its behalf.
func MatcherFor(host ocispec.Platform, rule Rule) platforms.MatchComparer {
	m := platforms.Only(host)
	if host.OS != "windows" {
		return m
	}
	if rule == FirstMatch {
		return firstMatch{windowsMatcher{m}}
	}
	return windowsMatcher{m}
}

// firstMatch matches as containerd's Windows matcher does and orders no two
// matches, as platforms v0.2.1's Default() does.
type firstMatch struct{ windowsMatcher }

func (f firstMatch) Less(a, b ocispec.Platform) bool { return f.Match(a) && !f.Match(b) }

// PickFor is Pick under rule.
func PickFor(host ocispec.Platform, entries []ocispec.Platform, rule Rule) int {
	m := MatcherFor(host, rule)
	best := -1
	for i, e := range entries {
		if !m.Match(e) {
			continue
		}
		if best < 0 || m.Less(e, entries[best]) {
			best = i
		}
	}
	return best
}
