// Package nodeconfig reads what the daemon must do as the node's CRI does
// from containerd's own configuration file: where the registry hosts
// directory is (mirrors, pull-through caches, private CAs, skip_verify),
// the legacy registry settings CRI still honours, the settings that make
// containerd 2.x's CRI pull without the Transfer service, and containerd's
// root folder.
package nodeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/pelletier/go-toml/v2"
)

// Config is what the daemon takes from containerd's configuration, as the
// CRI plugin of the node's containerd line reads it.
type Config struct {
	// Root is containerd's root folder ("root"), "" when the file does not
	// set it.
	Root string
	// HostsDirs are the CRI registry config_path roots, in order.
	HostsDirs []string
	// Mirrors are registry.mirrors: a host's endpoints ("*" for any host).
	Mirrors map[string][]string
	// Registries are registry.configs by host, with registry.auths folded
	// in as CRI folds them.
	Registries map[string]Registry
	// DiscardUnpackedLayers is the CRI option of that name.
	DiscardUnpackedLayers bool
	// DisableSnapshotAnnotations is the CRI option; nil is its default.
	DisableSnapshotAnnotations *bool
	// MaxConcurrentDownloads bounds the layers one pull fetches at once.
	MaxConcurrentDownloads int
	ImagePullWithSyncFs    bool
	UseLocalImagePull      bool
}

// Registry is one registry.configs entry.
type Registry struct {
	Auth *Auth
	// TLS is honoured by containerd 1.7 only; 2.x dropped it.
	TLS *TLS
}

// Auth is CRI's AuthConfig: user and password, a base64 "user:password",
// or an identity token.
type Auth struct {
	Username      string `toml:"username"`
	Password      string `toml:"password"`
	Auth          string `toml:"auth"`
	IdentityToken string `toml:"identitytoken"`
}

// TLS is containerd 1.7's registry.configs.*.tls.
type TLS struct {
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
	CAFile             string `toml:"ca_file"`
	CertFile           string `toml:"cert_file"`
	KeyFile            string `toml:"key_file"`
}

// defaultMaxConcurrentDownloads is CRI's default on every line and OS
// (v1.7.35 pkg/cri/config/config_windows.go, v2.4.2
// internal/cri/config/config_windows.go).
const defaultMaxConcurrentDownloads = 3

// DefaultPath is where a stock node keeps containerd's configuration.
func DefaultPath(goos string) string {
	if goos == "windows" {
		return `C:\Program Files\containerd\config.toml`
	}
	return "/etc/containerd/config.toml"
}

// DefaultPathHere is DefaultPath for the OS this daemon runs on.
func DefaultPathHere() string { return DefaultPath(runtime.GOOS) }

// Read parses containerd's configuration at path as containerd of the
// given major version reads it. containerd 1.7 reads the CRI plugin's
// section, plugins."io.containerd.grpc.v1.cri"; 2.x reads
// plugins."io.containerd.cri.v1.images", and first migrates a version 2
// file's CRI section into it. A missing file is containerd's defaults.
func Read(path string, containerdMajor int) (Config, error) {
	c := Config{MaxConcurrentDownloads: defaultMaxConcurrentDownloads}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	var doc document
	if err := toml.Unmarshal(data, &doc); err != nil {
		return c, fmt.Errorf("containerd configuration %s: %w", path, err)
	}
	c.Root = doc.Root
	var images imageSection
	if containerdMajor < 2 {
		images = doc.Plugins.CRI.images()
	} else {
		images = doc.Plugins.Images
		if doc.Version < 3 {
			images = doc.Plugins.CRI.migrateInto(images)
		}
	}
	images.applyTo(&c, containerdMajor)
	return c, nil
}

// TransferRefusal names the first setting that makes containerd 2.x's CRI
// pull with the client instead of the Transfer service on goos, "" when
// none does: containerd v2.4.2 (and v2.1.9) internal/cri/config/config.go
// CheckLocalImagePullConfigs, in its order, after use_local_image_pull.
func (c Config) TransferRefusal(goos string) string {
	// disable_snapshot_annotations defaults to true on Unix, where leaving
	// it true is what the Transfer service expects, and to false on
	// Windows, where setting it is the conflict.
	annotations := goos != "windows"
	if c.DisableSnapshotAnnotations != nil {
		annotations = *c.DisableSnapshotAnnotations
	}
	checks := []struct {
		name    string
		present bool
	}{
		{"use_local_image_pull", c.UseLocalImagePull},
		{"disable_snapshot_annotations", annotations == (goos == "windows")},
		{"discard_unpacked_layers", c.DiscardUnpackedLayers},
		{"registry.mirrors", len(c.Mirrors) > 0},
		{"registry.configs", len(c.Registries) > 0},
		{"max_concurrent_downloads", c.MaxConcurrentDownloads != defaultMaxConcurrentDownloads},
		{"image_pull_with_sync_fs", c.ImagePullWithSyncFs},
	}
	for _, check := range checks {
		if check.present {
			return check.name
		}
	}
	return ""
}
