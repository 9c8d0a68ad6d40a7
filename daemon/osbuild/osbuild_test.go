package osbuild

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParse(t *testing.T) {
	v, err := Parse("10.0.20348.2340")
	if err != nil || v.Build != 20348 || v.Revision != 2340 || v.BuildString() != "10.0.20348" {
		t.Fatalf("Parse = %+v, %v", v, err)
	}
	if v, err := Parse("10.0.17763"); err != nil || v.Build != 17763 || v.Revision != 0 {
		t.Fatalf("Parse without revision = %+v, %v", v, err)
	}
	for _, bad := range []string{"", "ltsc2022", "10.0", "10.0.x.1", "1.2.3.4.5", "10.0.-1"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func win(v string) ocispec.Platform {
	return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
}

func TestPickFollowsProcessIsolationRules(t *testing.T) {
	cases := []struct {
		host, container string
		want            bool
	}{
		{"10.0.17763.5576", "10.0.17763.100", true},
		{"10.0.17763.5576", "10.0.20348.2340", false},
		{"10.0.20348.2340", "10.0.17763.5576", false},
		{"10.0.20348.2340", "10.0.20348.9", true},
		{"10.0.20348.2340", "10.0.26100.1742", false},
		{"10.0.26100.1742", "10.0.20348.2340", true},
		{"10.0.26100.1742", "10.0.26100.1742", true},
		{"10.0.26100.1742", "10.0.17763.5576", false},
	}
	for _, c := range cases {
		got := Pick(win(c.host), []ocispec.Platform{win(c.container)}) == 0
		if got != c.want {
			t.Errorf("host %s, container %s: runnable = %v, want %v", c.host, c.container, got, c.want)
		}
	}
}

func TestPickPrefersNewestMatchAndSkipsOtherOS(t *testing.T) {
	entries := []ocispec.Platform{
		{OS: "linux", Architecture: "amd64"},
		win("10.0.17763.5576"),
		win("10.0.20348.2340"),
		win("10.0.20348.2582"),
		win("10.0.26100.1742"),
	}
	if got := Pick(win("10.0.20348.2340"), entries); got != 3 {
		t.Errorf("20348 host picked %d, want the 20348.2582 entry (3)", got)
	}
	if got := Pick(win("10.0.26100.1742"), entries); got != 4 {
		t.Errorf("26100 host picked %d, want 4", got)
	}
	if got := Pick(win("10.0.17763.1"), entries); got != 1 {
		t.Errorf("17763 host picked %d, want 1", got)
	}
	if got := Pick(ocispec.Platform{OS: "linux", Architecture: "amd64"}, entries); got != 0 {
		t.Errorf("linux host picked %d, want 0", got)
	}
	if got := Pick(win("10.0.17763.1"), entries[2:]); got != -1 {
		t.Errorf("17763 host with only newer entries picked %d, want -1", got)
	}
}
