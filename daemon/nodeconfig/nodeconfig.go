// Package nodeconfig reads what the daemon must do as the node's containerd
// does from that containerd's own configuration file: where the registry
// hosts directory is (mirrors, pull-through caches, private CAs,
// skip_verify) and whether unpacked layers are discarded.
package nodeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/pelletier/go-toml/v2"
)

// Config is what the daemon takes from containerd's configuration.
type Config struct {
	// HostsDirs are the CRI registry config_path roots, in order.
	HostsDirs []string
	// DiscardUnpackedLayers is the CRI option of that name.
	DiscardUnpackedLayers bool
}

// DefaultPath is where a stock node keeps containerd's configuration.
func DefaultPath(goos string) string {
	if goos == "windows" {
		return `C:\Program Files\containerd\config.toml`
	}
	return "/etc/containerd/config.toml"
}

// Read parses containerd's configuration at path, in 1.7's format (version
// 2: plugins."io.containerd.grpc.v1.cri") or 2.x's (version 3:
// plugins."io.containerd.cri.v1.images"). A missing file is containerd's
// defaults: no hosts directory, layers kept.
func Read(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, err
	}
	var doc struct {
		Version int                       `toml:"version"`
		Plugins map[string]map[string]any `toml:"plugins"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("containerd configuration %s: %w", path, err)
	}
	var c Config
	// containerd v2.4.2 internal/cri/config: images plugin options; v1.7.35
	// pkg/cri/config: the same under the grpc CRI plugin's registry and
	// containerd sections.
	if images, ok := doc.Plugins["io.containerd.cri.v1.images"]; ok {
		c.DiscardUnpackedLayers, _ = images["discard_unpacked_layers"].(bool)
		c.HostsDirs = configPath(images["registry"])
	}
	if cri, ok := doc.Plugins["io.containerd.grpc.v1.cri"]; ok {
		if ctrd, ok := cri["containerd"].(map[string]any); ok {
			if d, ok := ctrd["discard_unpacked_layers"].(bool); ok {
				c.DiscardUnpackedLayers = c.DiscardUnpackedLayers || d
			}
		}
		if dirs := configPath(cri["registry"]); len(dirs) > 0 {
			c.HostsDirs = dirs
		}
	}
	return c, nil
}

// configPath splits registry.config_path as CRI does: a list separated by
// the OS's list separator (containerd v2.4.2 internal/cri/server/images
// image_pull.go: filepath.SplitList, then hostDirFromRoots).
func configPath(registry any) []string {
	r, ok := registry.(map[string]any)
	if !ok {
		return nil
	}
	p, _ := r["config_path"].(string)
	if p == "" {
		return nil
	}
	return filepath.SplitList(p)
}

// DefaultPathHere is DefaultPath for the OS this daemon runs on.
func DefaultPathHere() string { return DefaultPath(runtime.GOOS) }
