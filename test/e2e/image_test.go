//go:build linux

package e2e

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"sigs.k8s.io/yaml"

	daemonimage "github.com/winimage-io/kubectl-winimage/cmd/winimage-release/image"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
)

// pushBase pushes a small generated image (or, for several platforms, an
// index) standing in for a base image.
func pushBase(t *testing.T, ref string, ps ...v1.Platform) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx := v1.ImageIndex(empty.Index)
	for _, p := range ps {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Architecture
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 {
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			return
		}
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
}

func TestDaemonImageIndexResolvesPerPlatformAndIsWarmDefault(t *testing.T) {
	r, _ := startRig(t, "")
	reg := r.Registry.Host()
	pushBase(t, reg+"/hostprocess-base:v1.0.0", v1.Platform{OS: "windows", Architecture: "amd64"})
	pushBase(t, reg+"/static:latest", v1.Platform{OS: "linux", Architecture: "amd64"}, v1.Platform{OS: "linux", Architecture: "arm64"})

	refFile := filepath.Join(t.TempDir(), "daemon-image.ref")
	release(t, "image", "--repo", reg+"/winimage-daemon:v0.1.0-e2e", "--version", "v0.1.0-e2e", "--mtime", "1700000000",
		"--windows-base", reg+"/hostprocess-base:v1.0.0", "--linux-base", reg+"/static:latest", "--ref-file", refFile,
		// Releases add linux/arm64: the same build for another GOARCH,
		// whose cold compile `make test` does not pay for.
		"--platforms", "windows/amd64,linux/amd64")
	b, err := os.ReadFile(refFile)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimSpace(string(b))
	digest, err := name.NewDigest(ref)
	if err != nil {
		t.Fatalf("ref file %q: %v", ref, err)
	}
	idx, err := remote.Index(digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
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
		wantEntry, wantFile := daemonimage.LinuxBinary, strings.TrimPrefix(daemonimage.LinuxBinary, "/")
		if p.OS == "windows" {
			wantEntry, wantFile = daemonimage.WindowsBinary, "Files/"+daemonimage.WindowsBinary
		}
		if cf.OSVersion != p.OSVersion || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != wantEntry {
			t.Errorf("%+v: config os.version %q entrypoint %v", p, cf.OSVersion, cf.Config.Entrypoint)
		}
		layers, _ := img.Layers()
		if size := topFileSize(t, layers[len(layers)-1], wantFile); size < 1<<20 {
			t.Errorf("%+v: %s in the top layer has %d bytes", p, wantFile, size)
		}
	}
	want := []string{"windows/amd64:10.0.17763", "windows/amd64:10.0.20348", "windows/amd64:10.0.26100", "linux/amd64:"}
	if len(entries) != len(want) {
		t.Fatalf("entries %+v", entries)
	}
	for i, e := range entries {
		if got := e.OS + "/" + e.Architecture + ":" + e.OSVersion; got != want[i] {
			t.Errorf("entry %d: %s, want %s", i, got, want[i])
		}
	}
	// A Server 2022 node resolves the 20348 entry, as containerd's Windows
	// matcher (which the daemon uses) picks it; a Linux node its own.
	if i := osbuild.Pick(osbuild.HostPlatform("windows", "amd64", "10.0.20348.2582"), entries); i < 0 || entries[i].OSVersion != "10.0.20348" {
		t.Errorf("Server 2022 node picks entry %d", i)
	}
	linux := platforms.Only(ocispec.Platform{OS: "linux", Architecture: "amd64"})
	var matched []string
	for _, e := range entries {
		if linux.Match(e) {
			matched = append(matched, e.OS+"/"+e.Architecture)
		}
	}
	if len(matched) != 1 || matched[0] != "linux/amd64" {
		t.Errorf("a linux/amd64 node matches %v", matched)
	}

	// A plugin stamped with it deploys it by default and says so.
	plugin := gobuild.Binary(t, "./cmd/kubectl-winimage", "github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo.DaemonImage="+ref)
	out := runOK(t, nil, plugin, "--kubeconfig", r.Kubeconfig, "warm", "r.example/app:1", "--dry-run=client", "-o", "yaml")
	var list struct {
		Items []struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct{ Containers []struct{ Image string } }
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	for _, item := range list.Items {
		if item.Kind == "DaemonSet" && (len(item.Spec.Template.Spec.Containers) != 1 || item.Spec.Template.Spec.Containers[0].Image != ref) {
			t.Errorf("warm's default daemon image: %+v", item.Spec.Template.Spec.Containers)
		}
	}
	if out := runOK(t, nil, plugin, "version", "--client"); !strings.Contains(out, "Daemon Image: "+ref) {
		t.Errorf("version --client:\n%s", out)
	}
}

func topFileSize(t *testing.T, l v1.Layer, file string) int64 {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == file {
			return h.Size
		}
	}
}
