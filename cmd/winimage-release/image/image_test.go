package image

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/test/wine"
)

// testBinaries writes stand-in binaries for the three platforms.
func testBinaries(t *testing.T) map[string]string {
	dir := wine.TempDir(t)
	out := map[string]string{}
	for _, p := range []string{"windows/amd64", "linux/amd64", "linux/arm64"} {
		path := filepath.Join(dir, filepath.Base(p)+filepath.Dir(p))
		if err := os.WriteFile(path, []byte("daemon for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
		out[p] = path
	}
	return out
}

// Build checks what the e2e test checks against a registry, here in memory.
func TestBuildEntriesFilesAndDeterminism(t *testing.T) {
	base, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Base: func(v1.Platform) (v1.Image, error) { return base, nil }, WindowsVersions: DefaultWindowsVersions,
		Binaries: testBinaries(t), Created: time.Unix(1700000000, 0).UTC()}
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Build(o)
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds: %s and %s", d1, d2)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 5 {
		t.Fatalf("%d entries", len(im.Manifests))
	}
	var entries []ocispec.Platform
	for _, desc := range im.Manifests {
		p := desc.Platform
		entries = append(entries, ocispec.Platform{OS: p.OS, Architecture: p.Architecture, OSVersion: p.OSVersion})
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.OS != p.OS || cf.Architecture != p.Architecture || cf.OSVersion != p.OSVersion {
			t.Errorf("%v: config says %s/%s %s", p, cf.OS, cf.Architecture, cf.OSVersion)
		}
		want, file := []string{LinuxBinary}, LinuxBinary[1:]
		if p.OS == "windows" {
			want, file = []string{WindowsBinary}, "Files/"+WindowsBinary
		}
		if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != want[0] {
			t.Errorf("%v entrypoint %v", p, cf.Config.Entrypoint)
		}
		layers, _ := img.Layers()
		files := topLayerFiles(t, layers[len(layers)-1])
		if files[file] != "daemon for "+p.OS+"/"+p.Architecture {
			t.Errorf("%v top layer: %v", p, files)
		}
	}
	// A Server 2022 host and a Linux host each resolve their own entry,
	// with the matchers containerd (and the daemon) use.
	host2022 := osbuild.HostPlatform("windows", "amd64", "10.0.20348.2582")
	if i := osbuild.Pick(host2022, entries); i < 0 || entries[i].OSVersion != "10.0.20348" {
		t.Errorf("2022 host picks %d", i)
	}
	linuxArm := platforms.Only(ocispec.Platform{OS: "linux", Architecture: "arm64"})
	n := 0
	for _, e := range entries {
		if linuxArm.Match(e) {
			n++
			if e.Architecture != "arm64" {
				t.Errorf("linux/arm64 matched %v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("linux/arm64 matches %d entries", n)
	}
	if _, err := Build(Options{Base: o.Base, Created: o.Created}); err == nil {
		t.Error("built an index with no binaries")
	}
}

func topLayerFiles(t *testing.T, l v1.Layer) map[string]string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			out[h.Name] = string(data)
		}
	}
}
