package servicemodel

import (
	"strings"
	"testing"
)

// The model is botocore's own: Image Builder's names take 3 to 128
// characters, inline component data at most 16,000.
func TestTheModelHoldsImageBuildersOwnLimits(t *testing.T) {
	m, err := Load("imagebuilder")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		member, value string
		ok            bool
	}{{"name", "abc", true}, {"name", "ab", false}, {"name", strings.Repeat("a", 128), true}, {"name", strings.Repeat("a", 129), false},
		{"data", strings.Repeat("x", 16000), true}, {"data", strings.Repeat("x", 16001), false}} {
		if err := m.Check("CreateComponentRequest", c.member, c.value); (err == nil) != c.ok {
			t.Errorf("%s of %d: %v", c.member, len(c.value), err)
		}
	}
}
