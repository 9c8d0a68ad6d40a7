// Package image builds the node daemon's image as a multi-platform OCI index
// with go-containerregistry, without Docker: a windows/amd64 entry per
// Windows Server build on the HostProcess base image, and linux entries on
// a minimal base. Layers and configs carry a fixed time, so the same
// binaries and bases give the same digests.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where the binary lives in each kind of image.
const (
	WindowsBinary = "winimage-daemon.exe"
	LinuxBinary   = "/usr/local/bin/winimage-daemon"
)

// DefaultWindowsVersions are the LTSC builds EKS publishes Windows AMIs for.
var DefaultWindowsVersions = []string{"10.0.17763", "10.0.20348", "10.0.26100"}

// Options say what to build.
type Options struct {
	// Base returns the base image for a platform (the HostProcess base
	// for windows, a minimal one for linux).
	Base func(v1.Platform) (v1.Image, error)
	// WindowsVersions get one windows/amd64 entry each.
	WindowsVersions []string
	// Binaries maps "os/arch" to the daemon binary built for it.
	Binaries map[string]string
	// Created is stamped on configs and layer files.
	Created time.Time
}

// Build returns the index: windows/amd64 per version, then each linux
// platform in Binaries.
func Build(o Options) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	if bin, ok := o.Binaries["windows/amd64"]; ok {
		for _, version := range o.WindowsVersions {
			p := v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: version}
			img, err := entry(o, p, bin)
			if err != nil {
				return nil, err
			}
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		bin, ok := o.Binaries["linux/"+arch]
		if !ok {
			continue
		}
		p := v1.Platform{OS: "linux", Architecture: arch}
		img, err := entry(o, p, bin)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if len(adds) == 0 {
		return nil, fmt.Errorf("no binaries for windows/amd64, linux/amd64 or linux/arm64")
	}
	return mutate.AppendManifests(idx, adds...), nil
}

func entry(o Options, p v1.Platform, binary string) (v1.Image, error) {
	base, err := o.Base(p)
	if err != nil {
		return nil, fmt.Errorf("base for %s: %w", platformString(p), err)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var layerTar []byte
	entrypoint := []string{LinuxBinary}
	if p.OS == "windows" {
		layerTar, err = windowsLayer(WindowsBinary, data, o.Created)
		entrypoint = []string{WindowsBinary}
	} else {
		layerTar, err = linuxLayer(LinuxBinary, data, o.Created)
	}
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.OSVersion, cf.Variant = p.OS, p.Architecture, p.OSVersion, p.Variant
	cf.Config.Entrypoint, cf.Config.Cmd = entrypoint, nil
	cf.Created = v1.Time{Time: o.Created}
	return mutate.ConfigFile(img, cf)
}

// windowsSecurityDescriptor makes BUILTIN\Users owner and group of the file:
// Windows layers carry one per file (as a PAX record) or the file is owned
// by no one the container can act as.
const windowsSecurityDescriptor = "AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA=="

// windowsLayer is a Windows image layer: the files under Files/, beside an
// empty Hives/, which is how containerd's Windows snapshotter reads layers.
func windowsLayer(name string, data []byte, mtime time.Time) ([]byte, error) {
	var hdrs []*tar.Header
	for _, dir := range []string{"Hives", "Files"} {
		hdrs = append(hdrs, &tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o555, ModTime: mtime, Format: tar.FormatPAX})
	}
	hdrs = append(hdrs, &tar.Header{Name: "Files/" + name, Typeflag: tar.TypeReg, Mode: 0o555, ModTime: mtime, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"MSWINDOWS.rawsd": windowsSecurityDescriptor}})
	return layerTar(hdrs, data)
}

// linuxLayer holds the binary at path with its parent folders.
func linuxLayer(path string, data []byte, mtime time.Time) ([]byte, error) {
	var hdrs []*tar.Header
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		hdrs = append(hdrs, &tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mtime})
	}
	hdrs = append(hdrs, &tar.Header{Name: strings.TrimPrefix(path, "/"), Typeflag: tar.TypeReg, Mode: 0o755, ModTime: mtime})
	return layerTar(hdrs, data)
}

// layerTar writes the headers in order; the last one is the file, of data.
func layerTar(hdrs []*tar.Header, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdrs[len(hdrs)-1].Size = int64(len(data))
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.OSVersion != "" {
		s += ":" + p.OSVersion
	}
	return s
}
