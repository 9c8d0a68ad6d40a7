//go:build linux

package bench

import (
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

func configSize(b *testing.B, ref string) int64 {
	m, err := imagefixtures.LinuxImage(b, ref).Manifest()
	if err != nil {
		b.Fatal(err)
	}
	return m.Config.Size
}
