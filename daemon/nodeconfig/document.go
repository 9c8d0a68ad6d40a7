package nodeconfig

import (
	"net/url"
	"path/filepath"
)

// document is the part of containerd's config.toml the daemon reads.
type document struct {
	Version int    `toml:"version"`
	Root    string `toml:"root"`
	Plugins struct {
		CRI    criSection   `toml:"io.containerd.grpc.v1.cri"`
		Images imageSection `toml:"io.containerd.cri.v1.images"`
	} `toml:"plugins"`
}

// imageSection holds the image settings: 2.x's images plugin, or what 1.7
// keeps in its CRI section. Pointers tell an unset key from a zero one.
type imageSection struct {
	Registry                   registrySection `toml:"registry"`
	DiscardUnpackedLayers      *bool           `toml:"discard_unpacked_layers"`
	DisableSnapshotAnnotations *bool           `toml:"disable_snapshot_annotations"`
	MaxConcurrentDownloads     *int            `toml:"max_concurrent_downloads"`
	ImagePullWithSyncFs        *bool           `toml:"image_pull_with_sync_fs"`
	UseLocalImagePull          *bool           `toml:"use_local_image_pull"`
}

type registrySection struct {
	ConfigPath *string `toml:"config_path"`
	Mirrors    map[string]struct {
		Endpoints []string `toml:"endpoint"`
	} `toml:"mirrors"`
	Configs map[string]struct {
		Auth *Auth `toml:"auth"`
		TLS  *TLS  `toml:"tls"`
	} `toml:"configs"`
	Auths map[string]Auth `toml:"auths"`
}

// criSection is a version 2 file's plugins."io.containerd.grpc.v1.cri".
type criSection struct {
	Registry               *registrySection `toml:"registry"`
	MaxConcurrentDownloads *int             `toml:"max_concurrent_downloads"`
	ImagePullWithSyncFs    *bool            `toml:"image_pull_with_sync_fs"`
	Containerd             struct {
		DiscardUnpackedLayers      *bool          `toml:"discard_unpacked_layers"`
		DisableSnapshotAnnotations *bool          `toml:"disable_snapshot_annotations"`
		Runtimes                   map[string]any `toml:"runtimes"`
	} `toml:"containerd"`
}

// images is what containerd 1.7 reads from its CRI section.
func (s criSection) images() imageSection {
	var out imageSection
	if s.Registry != nil {
		out.Registry = *s.Registry
	}
	out.MaxConcurrentDownloads, out.ImagePullWithSyncFs = s.MaxConcurrentDownloads, s.ImagePullWithSyncFs
	out.DiscardUnpackedLayers, out.DisableSnapshotAnnotations = s.Containerd.DiscardUnpackedLayers, s.Containerd.DisableSnapshotAnnotations
	return out
}

// migrateInto is containerd 2.x's migration of a version 2 file (v2.4.2
// plugins/cri/images/plugin.go migrateConfig, v2.1.9 the same): the CRI
// section's keys replace the images plugin's, and its containerd keys
// move only when that section also lists runtimes.
func (s criSection) migrateInto(dst imageSection) imageSection {
	if s.Registry != nil {
		dst.Registry = *s.Registry
	}
	if s.MaxConcurrentDownloads != nil {
		dst.MaxConcurrentDownloads = s.MaxConcurrentDownloads
	}
	if s.ImagePullWithSyncFs != nil {
		dst.ImagePullWithSyncFs = s.ImagePullWithSyncFs
	}
	if s.Containerd.Runtimes == nil {
		return dst
	}
	if s.Containerd.DiscardUnpackedLayers != nil {
		dst.DiscardUnpackedLayers = s.Containerd.DiscardUnpackedLayers
	}
	if s.Containerd.DisableSnapshotAnnotations != nil {
		dst.DisableSnapshotAnnotations = s.Containerd.DisableSnapshotAnnotations
	}
	return dst
}

func (s imageSection) applyTo(c *Config, containerdMajor int) {
	deref(&c.DiscardUnpackedLayers, s.DiscardUnpackedLayers)
	deref(&c.ImagePullWithSyncFs, s.ImagePullWithSyncFs)
	deref(&c.UseLocalImagePull, s.UseLocalImagePull)
	deref(&c.MaxConcurrentDownloads, s.MaxConcurrentDownloads)
	c.DisableSnapshotAnnotations = s.DisableSnapshotAnnotations
	if p := s.Registry.ConfigPath; p != nil && *p != "" {
		// CRI splits it with the OS's list separator (v2.4.2
		// internal/cri/server/images/image_pull.go registryHosts).
		c.HostsDirs = filepath.SplitList(*p)
	}
	for host, m := range s.Registry.Mirrors {
		if c.Mirrors == nil {
			c.Mirrors = map[string][]string{}
		}
		c.Mirrors[host] = m.Endpoints
	}
	for host, rc := range s.Registry.Configs {
		r := Registry{Auth: rc.Auth}
		if containerdMajor < 2 {
			r.TLS = rc.TLS
		}
		c.setRegistry(host, r)
	}
	// auths become configs.<host>.auth, the scheme dropped (v1.7.35
	// pkg/cri/config/config.go ValidatePluginConfig; v2.4.2
	// ValidateImageConfig). An endpoint that does not parse is refused by
	// containerd at start, so it never reaches a pull.
	for endpoint, auth := range s.Registry.Auths {
		u, err := url.Parse(endpoint)
		if err != nil {
			continue
		}
		if u.Scheme != "" {
			endpoint = u.Host
		}
		r := c.Registries[endpoint]
		r.Auth = &auth
		c.setRegistry(endpoint, r)
	}
}

func (c *Config) setRegistry(host string, r Registry) {
	if c.Registries == nil {
		c.Registries = map[string]Registry{}
	}
	c.Registries[host] = r
}

func deref[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
