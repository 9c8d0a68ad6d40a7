package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// The containerd lines the rig runs: what EKS Windows AMIs ship (1.7.x up
// to Kubernetes 1.33, 2.1.x from 1.34) besides the current release.
const (
	Containerd17Version = "v1.7.35"
	Containerd21Version = "v2.1.9"
)

// ContainerdLines maps a line ("1.7", "2.1", "2.4") to its version.
var ContainerdLines = map[string]string{"1.7": Containerd17Version, "2.1": Containerd21Version, "2.4": ContainerdVersion}

// ContainerdLineEnv selects the line StartContainerd runs by default, so a
// whole test suite can run against each line EKS ships.
const ContainerdLineEnv = "WINIMAGE_RIG_CONTAINERD"

// buildContainerdIn builds containerd and ctr of module@version in a
// throwaway module: the 1.7 and 2.1 go.mod files carry exclude directives,
// which `go install pkg@version` refuses.
func buildContainerdIn(module, version string) func(context.Context, *builder, string) error {
	return func(ctx context.Context, b *builder, out string) error {
		dir, err := b.workDir("containerd-" + version)
		if err != nil {
			return err
		}
		gomod := fmt.Sprintf("module rigbuild/containerd\n\ngo 1.26\n\nrequire %s %s\n", module, version)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
			return err
		}
		// Any file of the module keeps `go mod tidy` from dropping the
		// requirement; the commands themselves come from the dependency.
		tools := fmt.Sprintf("//go:build tools\n\npackage tools\n\nimport (\n\t_ %q\n\t_ %q\n)\n", module+"/cmd/containerd", module+"/cmd/ctr")
		if err := os.WriteFile(filepath.Join(dir, "tools.go"), []byte(tools), 0o644); err != nil {
			return err
		}
		if _, err := b.goCmd(ctx, dir, []string{"GOFLAGS=-mod=mod"}, "mod", "tidy"); err != nil {
			return err
		}
		for _, c := range []string{"containerd", "ctr"} {
			if err := b.buildTo(ctx, dir, out, c, "-s -w", module+"/cmd/"+c); err != nil {
				return err
			}
		}
		return nil
	}
}

// containerdBinaries are the containerd and ctr of a line, from the cache.
func containerdBinaries(root, line string) (containerd, ctr string, err error) {
	version, ok := ContainerdLines[line]
	if !ok {
		return "", "", fmt.Errorf("unknown containerd line %q (have 1.7, 2.1, 2.4)", line)
	}
	dir := filepath.Join(root, "containerd-"+version)
	return filepath.Join(dir, "containerd"), filepath.Join(dir, "ctr"), nil
}

// CtrOf is the ctr of a containerd line, from the cache (built by Build).
func CtrOf(line string) (string, error) {
	root, err := CacheDir()
	if err != nil {
		return "", err
	}
	_, ctr, err := containerdBinaries(root, line)
	return ctr, err
}
