package nodeconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func read(t *testing.T, doc string, major int) Config {
	t.Helper()
	path := filepath.Join(wine.TempDir(t), "config.toml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Read(path, major)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadTheImageSettingsOfEachLine(t *testing.T) {
	// CRI splits config_path with the OS's list separator: ';' on Windows,
	// where the paths have drive letters and colons.
	twoRoots := []string{"/etc/containerd/certs.d", "/etc/docker/certs.d"}
	if runtime.GOOS == "windows" {
		twoRoots = []string{`C:\Program Files\containerd\certs.d`, `D:\registry\certs.d`}
	}
	joined := strings.ReplaceAll(strings.Join(twoRoots, string(filepath.ListSeparator)), `\`, `\\`)
	v3 := `version = 3
root = 'D:\containerd\root'
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'windows'
  discard_unpacked_layers = true
  max_concurrent_downloads = 5
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "` + joined + `"
`
	c := read(t, v3, 2)
	if !slices.Equal(c.HostsDirs, twoRoots) || !c.DiscardUnpackedLayers || c.MaxConcurrentDownloads != 5 || c.Root != `D:\containerd\root` {
		t.Errorf("2.x (version 3): %+v", c)
	}
	v2 := `version = 2
root = "/var/lib/ctrd"
[plugins."io.containerd.grpc.v1.cri"]
  max_concurrent_downloads = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "windows"
  discard_unpacked_layers = true
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
`
	for _, major := range []int{1, 2} {
		// 2.x migrates a version 2 file's CRI section (v2.4.2
		// plugins/cri/images/plugin.go migrateConfig).
		c := read(t, v2, major)
		if !slices.Equal(c.HostsDirs, []string{"/etc/containerd/certs.d"}) || c.MaxConcurrentDownloads != 2 || c.Root != "/var/lib/ctrd" {
			t.Errorf("version 2 on containerd %d: %+v", major, c)
		}
		// The containerd section migrates only with runtimes beside it.
		if want := major == 1; c.DiscardUnpackedLayers != want {
			t.Errorf("version 2 on containerd %d: discard_unpacked_layers = %v, want %v", major, c.DiscardUnpackedLayers, want)
		}
	}
	if c := read(t, "version = 2\n", 1); !reflect.DeepEqual(c, Config{MaxConcurrentDownloads: 3}) {
		t.Errorf("defaults: %+v", c)
	}
}

func TestReadTheLegacyRegistrySettings(t *testing.T) {
	doc := `version = 2
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://mirror.example:5000", "https://registry-1.docker.io"]
[plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example:5000".tls]
  ca_file = "C:\\certs\\ca.pem"
  insecure_skip_verify = true
[plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example:5000".auth]
  username = "u"
  password = "p"
[plugins."io.containerd.grpc.v1.cri".registry.auths."https://old.example"]
  auth = "dTpw"
`
	c := read(t, doc, 1)
	want := Config{
		MaxConcurrentDownloads: 3,
		Mirrors:                map[string][]string{"docker.io": {"https://mirror.example:5000", "https://registry-1.docker.io"}},
		Registries: map[string]Registry{
			"mirror.example:5000": {TLS: &TLS{CAFile: `C:\certs\ca.pem`, InsecureSkipVerify: true}, Auth: &Auth{Username: "u", Password: "p"}},
			// auths are folded into configs without the scheme (v1.7.35
			// pkg/cri/config/config.go ValidatePluginConfig).
			"old.example": {Auth: &Auth{Auth: "dTpw"}},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("legacy settings:\n got %+v\nwant %+v", c, want)
	}
	// containerd 2.x keeps only configs.*.auth (v2.4.2
	// internal/cri/config/config.go RegistryConfig).
	if c := read(t, doc, 2); c.Registries["mirror.example:5000"].TLS != nil || c.Registries["mirror.example:5000"].Auth == nil {
		t.Errorf("2.x kept a TLS setting it ignores: %+v", c.Registries)
	}
}

func TestTransferRefusalFollowsCRI(t *testing.T) {
	// containerd v2.4.2 (and v2.1.9) internal/cri/config/config.go
	// CheckLocalImagePullConfigs: any of these makes CRI pull locally.
	annotations := "disable_snapshot_annotations = false"
	if runtime.GOOS == "windows" {
		annotations = "disable_snapshot_annotations = true"
	}
	cases := map[string]string{
		"":                               "",
		"use_local_image_pull = true":    "use_local_image_pull",
		annotations:                      "disable_snapshot_annotations",
		"discard_unpacked_layers = true": "discard_unpacked_layers",
		"max_concurrent_downloads = 4":   "max_concurrent_downloads",
		"image_pull_with_sync_fs = true": "image_pull_with_sync_fs",
		"[plugins.'io.containerd.cri.v1.images'.registry.mirrors.'docker.io']\nendpoint = ['https://m']": "registry.mirrors",
		"[plugins.'io.containerd.cri.v1.images'.registry.configs.'r.example'.auth]\nusername = 'u'":      "registry.configs",
		// auths are folded into configs first (ValidateImageConfig).
		"[plugins.'io.containerd.cri.v1.images'.registry.auths.'https://r.example']\nauth = 'dTpw'": "registry.configs",
	}
	for setting, want := range cases {
		c := read(t, "version = 3\n[plugins.'io.containerd.cri.v1.images']\n"+setting+"\n", 2)
		if got := c.TransferRefusal(runtime.GOOS); got != want {
			t.Errorf("%q: TransferRefusal = %q, want %q", setting, got, want)
		}
	}
	if got := read(t, "version = 2\n", 1).TransferRefusal(runtime.GOOS); got != "" {
		t.Errorf("defaults: %q", got)
	}
}

func TestReadMissingAndBrokenFiles(t *testing.T) {
	dir := wine.TempDir(t)
	if got, err := Read(filepath.Join(dir, "missing.toml"), 2); err != nil || !reflect.DeepEqual(got, Config{MaxConcurrentDownloads: 3}) {
		t.Errorf("missing file: %+v, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "bad.toml"), []byte("version = [\n"), 0o644)
	if _, err := Read(filepath.Join(dir, "bad.toml"), 2); err == nil {
		t.Error("a broken file read as defaults")
	}
}
