// Command winimage-release makes what a release ships, without Docker:
//
//	winimage-release dist  --version vX.Y.Z …   # plugin archives, checksums, krew manifest
//	winimage-release image --repo REGISTRY/winimage-daemon:TAG …   # daemon image index, pushed
//	winimage-release docs                                          # docs/reference from the cobra tree
//
// The Makefile's dist and image targets call it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

const module = "github.com/winimage-io/kubectl-winimage"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: winimage-release dist|image|docs [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "dist":
		err = dist(ctx, os.Args[2:])
	case "image":
		err = image(ctx, os.Args[2:])
	case "docs":
		err = writeReference(referenceDir)
	default:
		err = fmt.Errorf("unknown command %q: use dist, image or docs", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "winimage-release:", err)
		os.Exit(1)
	}
}

// stamp is what every binary gets at link time.
type stamp struct {
	version, commit, daemonImage string
}

func (s stamp) ldflags() string {
	flags := []string{"-s", "-w",
		"-X", module + "/daemon/contract/buildinfo.Version=" + s.version,
		"-X", module + "/daemon/contract/buildinfo.Commit=" + s.commit}
	if s.daemonImage != "" {
		flags = append(flags, "-X", module+"/daemon/contract/buildinfo.DaemonImage="+s.daemonImage)
	}
	return strings.Join(flags, " ")
}

// goBuild cross-compiles pkg reproducibly: no cgo, no paths, no VCS
// stamping beyond what the flags say.
func goBuild(ctx context.Context, pkg, platform, out string, s stamp) error {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok {
		return fmt.Errorf("platform %q: want os/arch", platform)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", s.ldflags(), "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for %s: %v\n%s", pkg, platform, err, b)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
