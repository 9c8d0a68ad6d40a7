package osbuild

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRuleOf(t *testing.T) {
	cases := map[string]Rule{
		"containerd://1.7.27": FirstMatch, "1.6.36": FirstMatch, "v1.7.35": FirstMatch,
		"containerd://2.1.4": HighestOSVersion, "v2.4.2": HighestOSVersion, "": HighestOSVersion, "docker://28.2.2": HighestOSVersion,
	}
	for v, want := range cases {
		if got := RuleOf(v); got != want {
			t.Errorf("RuleOf(%q) = %v", v, got)
		}
	}
}

func TestPickForFollowsEachContainerdLine(t *testing.T) {
	host := HostPlatform("windows", "amd64", "10.0.20348.2582")
	win := func(v string) ocispec.Platform {
		return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
	}
	// Two entries run on a 20348 host; an older revision first.
	entries := []ocispec.Platform{win("10.0.17763.6893"), win("10.0.20348.1000"), win("10.0.20348.2582"), {OS: "linux", Architecture: "amd64"}}
	if got := PickFor(host, entries, FirstMatch); got != 1 {
		t.Errorf("containerd 1.7 picks %d, want the first match (1)", got)
	}
	if got := PickFor(host, entries, HighestOSVersion); got != 2 {
		t.Errorf("containerd 2.x picks %d, want the highest os.version (2)", got)
	}
	// The matcher the daemon pulls with orders entries the same way.
	m := MatcherFor(host, FirstMatch)
	if m.Less(entries[2], entries[1]) || m.Less(entries[1], entries[2]) || !m.Less(entries[1], entries[0]) {
		t.Error("first-match matcher orders two matches, or a match after a non-match")
	}
	if !MatcherFor(host, HighestOSVersion).Less(entries[2], entries[1]) {
		t.Error("2.x matcher does not put the higher os.version first")
	}
}
