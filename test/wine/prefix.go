//go:build linux

package wine

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/winimage-io/kubectl-winimage/test/rigcache"
)

//go:embed stub/prng.c
var prngSource []byte

// PrefixEnv overrides where the Wine prefix is kept.
const PrefixEnv = "WINIMAGE_WINE_PREFIX"

// packages are Debian's: Wine, and the compiler for the ProcessPrng stub.
var packages = []string{"wine64", "gcc-mingw-w64-x86-64"}

// PrefixDir is $WINIMAGE_WINE_PREFIX, else the cache's wine folder
// (rigcache.Under), beside the rig's components, so that a fresh checkout
// reuses it.
func PrefixDir() (string, error) { return rigcache.Under("wine", PrefixEnv) }

// Prepare installs Wine and MinGW when they are missing (as root, from
// Debian's packages, as the rig's other parts are built by make test
// itself) and makes the prefix once: wineboot, then the ProcessPrng stub
// in its system32. It returns the environment to run Wine with.
func Prepare(ctx context.Context, log io.Writer) ([]string, error) {
	dir, err := PrefixDir()
	if err != nil {
		return nil, err
	}
	// make test's checks lane and its end-to-end tests may both get here
	// first: one installs and makes the prefix, the other waits for it.
	unlock, err := rigcache.Lock(dir + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := install(ctx, log); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "WINEPREFIX="+dir, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=", ExpectEnv+"=1")
	stub := filepath.Join(dir, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if _, err := os.Stat(stub); err == nil {
		return env, nil
	}
	fmt.Fprintf(log, "wine: making the prefix %s\n", dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	boot := exec.CommandContext(ctx, "wineboot", "-i")
	boot.Env, boot.Stdout, boot.Stderr = env, log, log
	if err := boot.Run(); err != nil {
		return nil, fmt.Errorf("wineboot: %w", err)
	}
	if err := buildStub(ctx, stub, log); err != nil {
		return nil, err
	}
	return env, nil
}

func install(ctx context.Context, log io.Writer) error {
	_, wineErr := exec.LookPath("wine")
	_, gccErr := exec.LookPath("x86_64-w64-mingw32-gcc")
	if wineErr == nil && gccErr == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("wine or x86_64-w64-mingw32-gcc is missing and this is not root: apt-get install %v", packages)
	}
	fmt.Fprintf(log, "wine: installing %v\n", packages)
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq"}, packages...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %v: %w", args, err)
		}
	}
	return nil
}

// buildStub compiles prng.c into the prefix's bcryptprimitives.dll.
func buildStub(ctx context.Context, dll string, log io.Writer) error {
	tmp, err := os.MkdirTemp("", "wine-prng-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "prng.c")
	if err := os.WriteFile(src, prngSource, 0o644); err != nil {
		return err
	}
	out := filepath.Join(tmp, "bcryptprimitives.dll")
	cc := exec.CommandContext(ctx, "x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", out, src, "-ladvapi32")
	cc.Stdout, cc.Stderr = log, log
	if err := cc.Run(); err != nil {
		return fmt.Errorf("build the ProcessPrng stub: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	// Written last: its presence marks a finished prefix.
	return os.WriteFile(dll, data, 0o644)
}
