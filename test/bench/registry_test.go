//go:build linux

package bench

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type layer struct {
	digest string
	size   int64
}

func linuxImage(b *testing.B, ref string) v1.Image {
	r, err := name.ParseReference(ref)
	if err != nil {
		b.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		b.Fatal(err)
	}
	return img
}

func layersOf(b *testing.B, ref string) []layer {
	m, err := linuxImage(b, ref).Manifest()
	if err != nil {
		b.Fatal(err)
	}
	var out []layer
	for _, l := range m.Layers {
		out = append(out, layer{l.Digest.String(), l.Size})
	}
	return out
}

func configSize(b *testing.B, ref string) int64 {
	m, err := linuxImage(b, ref).Manifest()
	if err != nil {
		b.Fatal(err)
	}
	return m.Config.Size
}
