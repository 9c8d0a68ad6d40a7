package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	daemonimage "github.com/winimage-io/kubectl-winimage/cmd/winimage-release/image"
)

// image builds the daemon for each platform, assembles the index on the
// base images and pushes it; it prints (and with --ref-file writes)
// repository@digest.
func image(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var s stamp
	fs.StringVar(&s.version, "version", "v0.0.0-dev", "version to stamp")
	fs.StringVar(&s.commit, "commit", "unknown", "commit to stamp")
	repo := fs.String("repo", "", "where to push, REGISTRY/REPOSITORY:TAG (required)")
	windowsBase := fs.String("windows-base", "mcr.microsoft.com/oss/kubernetes/windows-host-process-containers-base-image:v1.0.0", "base of the windows entries (the HostProcess base image)")
	linuxBase := fs.String("linux-base", "gcr.io/distroless/static-debian12", "base of the linux entries (it brings CA certificates)")
	versions := fs.String("windows-versions", strings.Join(daemonimage.DefaultWindowsVersions, ","), "os.version of each windows/amd64 entry")
	platforms := fs.String("platforms", "windows/amd64,linux/amd64,linux/arm64", "daemon platforms to build")
	refFile := fs.String("ref-file", "", "also write repository@digest to this file")
	mtime := fs.Int64("mtime", 0, "unix time stamped on configs and layers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tag, err := name.NewTag(*repo, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("--repo %q: %v", *repo, err)
	}
	bases := map[string]name.Reference{}
	for osName, ref := range map[string]string{"windows": *windowsBase, "linux": *linuxBase} {
		if bases[osName], err = name.ParseReference(ref); err != nil {
			return fmt.Errorf("--%s-base %q: %v", osName, ref, err)
		}
	}
	build, err := os.MkdirTemp("", "winimage-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(build)
	binaries := map[string]string{}
	for _, platform := range splitList(*platforms) {
		out := filepath.Join(build, strings.ReplaceAll(platform, "/", "-"), "winimage-daemon")
		if strings.HasPrefix(platform, "windows/") {
			out += ".exe"
		}
		if err := goBuild(ctx, "./cmd/winimage-daemon", platform, out, s); err != nil {
			return err
		}
		binaries[platform] = out
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	idx, err := daemonimage.Build(daemonimage.Options{
		Base: func(p v1.Platform) (v1.Image, error) {
			// The base is picked by OS and architecture: the HostProcess
			// base runs on every Windows build.
			return remote.Image(bases[p.OS], append(opts, remote.WithPlatform(v1.Platform{OS: p.OS, Architecture: p.Architecture}))...)
		},
		WindowsVersions: splitList(*versions),
		Binaries:        binaries,
		Created:         time.Unix(*mtime, 0).UTC(),
	})
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(tag, idx, opts...); err != nil {
		return fmt.Errorf("push %s: %w", tag, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	ref := tag.Context().Name() + "@" + digest.String()
	fmt.Println(ref)
	if *refFile != "" {
		return os.WriteFile(*refFile, []byte(ref+"\n"), 0o644)
	}
	return nil
}
