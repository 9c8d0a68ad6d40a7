package noderuntime

import "testing"

func TestIsTagName(t *testing.T) {
	cases := map[string]bool{
		"r.example/app:1": true,
		"r.example/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": false,
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef":                    false,
		"docker.io/library/nginx:latest": true,
	}
	for name, want := range cases {
		if got := isTagName(name); got != want {
			t.Errorf("isTagName(%q) = %v", name, got)
		}
	}
}
