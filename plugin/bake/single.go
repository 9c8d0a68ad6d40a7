package bake

import (
	"fmt"
	"strconv"
	"strings"
)

// Single is the one build of the plan with images chosen, for outputs that
// are per build (what names the output, e.g. "component", for errors). It
// is an error when no build or more than one has a choice.
func (p *Plan) Single(what string) (*BuildPlan, error) {
	var with []*BuildPlan
	for i := range p.Builds {
		if p.Builds[i].Component != nil {
			with = append(with, &p.Builds[i])
		}
	}
	switch len(with) {
	case 0:
		return nil, fmt.Errorf("no image was chosen for any build, so there is no %s to print (see `kubectl winimage bake`)", what)
	case 1:
		return with[0], nil
	}
	builds := make([]string, len(with))
	for i, bp := range with {
		builds[i] = strconv.Itoa(bp.Build)
	}
	return nil, fmt.Errorf("-o %s is for one build; this plan has %s: pick one with --build", what, strings.Join(builds, ", "))
}
