package warm

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestParseImageFile(t *testing.T) {
	cases := []struct {
		name, data string
		want       []string
		wantErr    string
	}{
		{"lines", "a:1\n\n# comment\n  b:2  \n", []string{"a:1", "b:2"}, ""},
		{"image list, normalized as the daemon reads it", "images:\n- ref: nginx\n- ref: r.example/x:1\n  pin: false\n", []string{"docker.io/library/nginx:latest", "r.example/x:1"}, ""},
		{"image list with an unknown key", "images:\n- ref: a\n  pinned: true\n", nil, "unknown field"},
		{"empty", "", nil, ""},
	}
	for _, c := range cases {
		got, err := ParseImageFile("f", []byte(c.data))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestValidateNamesTheField(t *testing.T) {
	ok := Config{OS: "windows", DaemonImage: "r.example/d:1", Images: []string{"a:1"}}
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"valid", func(*Config) {}, ""},
		{"os", func(c *Config) { c.OS = "plan9" }, "os"},
		{"no daemon image", func(c *Config) { c.DaemonImage = "" }, "daemonImage"},
		{"bad daemon image", func(c *Config) { c.DaemonImage = "r.example/d:a b" }, "daemonImage"},
		{"no images", func(c *Config) { c.Images = nil }, "images"},
		{"bad image", func(c *Config) { c.Images = []string{"a:1", "b c"} }, "images[1]"},
		{"same image twice after normalization", func(c *Config) { c.Images = []string{"nginx", "docker.io/library/nginx:latest"} }, "images[1]"},
		{"pull secret", func(c *Config) { c.PullSecrets = []string{"a/b"} }, "pullSecrets[0]"},
		{"disk threshold", func(c *Config) { c.DiskThreshold = 1.5 }, "diskThreshold"},
		{"max nodes", func(c *Config) { c.MaxConcurrentNodes = -1 }, "maxConcurrentNodes"},
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Validate()
		var got string
		if fe, isField := err.(*field.Error); isField {
			got = fe.Field
		} else if err != nil {
			t.Errorf("%s: not a field error: %v", c.name, err)
			continue
		}
		if got != c.field {
			t.Errorf("%s: field %q (%v), want %q", c.name, got, err, c.field)
		}
	}
}
