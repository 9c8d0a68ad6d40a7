package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/winimage-io/kubectl-winimage/krew"
)

const defaultPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64"

// dist builds the plugin for each platform, archives it with LICENSE,
// writes checksums.txt and the krew manifest.
func dist(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	var s stamp
	fs.StringVar(&s.version, "version", "", "version to stamp (vX.Y.Z)")
	fs.StringVar(&s.commit, "commit", "unknown", "commit to stamp")
	fs.StringVar(&s.daemonImage, "daemon-image", "", "daemon image (by digest) warm deploys by default")
	out := fs.String("out", "dist", "folder for the archives and checksums.txt")
	manifest := fs.String("manifest", "krew/winimage.yaml", "where to write the krew manifest")
	baseURL := fs.String("base-url", "https://github.com/winimage-io/kubectl-winimage/releases/download/{version}", "where the archives are published ({version} is replaced)")
	platforms := fs.String("platforms", defaultPlatforms, "os/arch list")
	mtime := fs.Int64("mtime", 0, "unix time stamped on archive entries (default: $SOURCE_DATE_EPOCH, else 0)")
	license := fs.String("license", "LICENSE", "license file put in every archive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if s.version == "" {
		return fmt.Errorf("--version is required")
	}
	if *mtime == 0 {
		if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("SOURCE_DATE_EPOCH %q: %v", v, err)
			}
			*mtime = t
		}
	}
	// Check the version before spending minutes on builds.
	if _, err := krew.Render(krew.Manifest{Version: s.version, Platforms: []krew.Platform{{OS: "linux", Arch: "amd64", URI: "x", SHA256: strings.Repeat("0", 64), Bin: "x"}}}); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	build, err := os.MkdirTemp("", "winimage-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(build)

	m := krew.Manifest{Version: s.version, Homepage: "https://github.com/winimage-io/kubectl-winimage"}
	var archives []string
	for _, platform := range splitList(*platforms) {
		goos, goarch, _ := strings.Cut(platform, "/")
		bin, ext := "kubectl-winimage", ".tar.gz"
		if goos == "windows" {
			bin, ext = "kubectl-winimage.exe", ".zip"
		}
		binPath := filepath.Join(build, goos+"-"+goarch, bin)
		if err := goBuild(ctx, "./cmd/kubectl-winimage", platform, binPath, s); err != nil {
			return err
		}
		name := fmt.Sprintf("kubectl-winimage_%s_%s_%s%s", s.version, goos, goarch, ext)
		archive := filepath.Join(*out, name)
		files := []krew.File{{Name: bin, Path: binPath, Mode: 0o755}, {Name: "LICENSE", Path: *license, Mode: 0o644}}
		if err := krew.WriteArchive(archive, files, time.Unix(*mtime, 0)); err != nil {
			return err
		}
		sum, err := krew.SHA256(archive)
		if err != nil {
			return err
		}
		archives = append(archives, archive)
		uri := strings.TrimSuffix(strings.ReplaceAll(*baseURL, "{version}", s.version), "/") + "/" + name
		m.Platforms = append(m.Platforms, krew.Platform{OS: goos, Arch: goarch, URI: uri, SHA256: sum, Bin: bin})
		fmt.Printf("%s  %s\n", sum, archive)
	}
	if err := krew.WriteChecksums(filepath.Join(*out, "checksums.txt"), archives); err != nil {
		return err
	}
	data, err := krew.Render(m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*manifest, data, 0o644); err != nil {
		return err
	}
	fmt.Printf("krew manifest: %s\n", *manifest)
	return nil
}
