package containerdversion

import "testing"

func TestParseAndPins(t *testing.T) {
	cases := []struct {
		in     string
		want   Version
		pinned bool
	}{
		{"containerd://1.7.27", Version{1, 7, 27}, true},
		{"1.7.9", Version{1, 7, 9}, false},
		{"containerd://1.7.10", Version{1, 7, 10}, true},
		{"containerd://1.6.36", Version{1, 6, 36}, false},
		{"v2.1.4", Version{2, 1, 4}, true},
		{"1.7.2-eks-1", Version{1, 7, 2}, false},
		{"2.0", Version{2, 0, 0}, true},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil || got != c.want || PinsHonoured(got) != c.pinned {
			t.Errorf("Parse(%q) = %v, %v; pins honoured %v", c.in, got, err, PinsHonoured(got))
		}
	}
	for _, bad := range []string{"", "docker", "x.y"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
