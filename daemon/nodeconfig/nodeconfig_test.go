package nodeconfig

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestRead(t *testing.T) {
	dir := wine.TempDir(t)
	// CRI splits config_path with the OS's list separator: ';' on Windows,
	// where the paths have drive letters and colons.
	twoRoots := []string{"/etc/containerd/certs.d", "/etc/docker/certs.d"}
	if runtime.GOOS == "windows" {
		twoRoots = []string{`C:\Program Files\containerd\certs.d`, `D:\registry\certs.d`}
	}
	cases := []struct {
		name, doc string
		want      Config
	}{
		{"2.x (version 3)", `version = 3
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'windows'
  discard_unpacked_layers = true
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '` + strings.Join(twoRoots, string(filepath.ListSeparator)) + `'
`, Config{HostsDirs: twoRoots, DiscardUnpackedLayers: true}},
		{"1.7 (version 2)", `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "windows"
  discard_unpacked_layers = true
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
`, Config{HostsDirs: []string{"/etc/containerd/certs.d"}, DiscardUnpackedLayers: true}},
		{"defaults", "version = 2\n", Config{}},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".toml")
		os.WriteFile(path, []byte(c.doc), 0o644)
		got, err := Read(path)
		if err != nil || !slices.Equal(got.HostsDirs, c.want.HostsDirs) || got.DiscardUnpackedLayers != c.want.DiscardUnpackedLayers {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	if got, err := Read(filepath.Join(dir, "missing.toml")); err != nil || len(got.HostsDirs) != 0 {
		t.Errorf("missing file: %+v, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "bad.toml"), []byte("version = [\n"), 0o644)
	if _, err := Read(filepath.Join(dir, "bad.toml")); err == nil {
		t.Error("a broken file read as defaults")
	}
}
