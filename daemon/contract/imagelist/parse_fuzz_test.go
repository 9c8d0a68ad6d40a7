package imagelist

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
)

func TestParseRefusesMoreThanAConfigMapHolds(t *testing.T) {
	data := "images:\n" + strings.Repeat("- ref: r.example/app:1\n", MaxBytes/20)
	if _, err := Parse([]byte(data)); err == nil || !strings.Contains(err.Error(), "over the 1048576 a ConfigMap holds") {
		t.Errorf("a %d-byte list: %v", len(data), err)
	}
}

// Whatever the ConfigMap holds, Parse never panics; a list it returns has
// no reference twice, and each is either marked invalid or already in the
// normalized form CRI uses.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"images:\n- ref: nginx\n- ref: docker.io/library/nginx:latest\n- {ref: r/a:1, pin: false}\n",
		"images: []\n", "images:\n- ref: 'Bad:1'\n", "a: &a [*a]\n", "images: {ref: x}\n", "- ref: x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, img := range l.Images {
			if seen[img.Ref] {
				t.Fatalf("%q: %s listed twice", data, img.Ref)
			}
			seen[img.Ref] = true
			if img.Invalid != "" {
				continue
			}
			named, err := reference.ParseDockerRef(img.Ref)
			if err != nil || named.String() != img.Ref {
				t.Fatalf("%q: %q kept as valid but normalizes to %v (%v)", data, img.Ref, named, err)
			}
		}
	})
}
