package bake

import (
	"strings"
	"testing"
)

func TestSinglePicksTheOnlyBuildWithAChoice(t *testing.T) {
	comp := &Component{}
	cases := []struct {
		name      string
		builds    []BuildPlan
		wantBuild int
		wantErr   string
	}{
		{"none chosen", []BuildPlan{{Build: 20348}}, 0, "no image was chosen"},
		{"one of two", []BuildPlan{{Build: 17763}, {Build: 20348, Component: comp}}, 20348, ""},
		{"two", []BuildPlan{{Build: 17763, Component: comp}, {Build: 20348, Component: comp}}, 0, "this plan has 17763, 20348"},
	}
	for _, c := range cases {
		bp, err := (&Plan{Builds: c.builds}).Single("component")
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || bp.Build != c.wantBuild {
			t.Errorf("%s: %+v, %v", c.name, bp, err)
		}
	}
}
