// Package gobuild builds this module's mains for the end-to-end tests and
// the benchmarks, the way release builds are made (no cgo, -trimpath), so
// they share the build cache with them, once per test process.
package gobuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builds caches folders per (package, stamps) for the process's life.
var builds sync.Map

// ModuleRoot is the folder of this module's go.mod.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		tb.Fatal("not inside the module")
	}
	return filepath.Dir(mod)
}

// Dir builds the main package pkg (e.g. ./cmd/winimage-daemon) with extra
// -X stamps (pkg.Var=value) and returns the folder holding the binary,
// named after pkg's last element.
func Dir(tb testing.TB, pkg string, stamps ...string) string {
	tb.Helper()
	key := pkg + "|" + strings.Join(stamps, "|")
	if dir, ok := builds.Load(key); ok {
		return dir.(string)
	}
	dir, err := os.MkdirTemp("", "winimage-bin-")
	if err != nil {
		tb.Fatal(err)
	}
	ldflags := ""
	for _, s := range stamps {
		ldflags += " -X " + s
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(dir, filepath.Base(pkg)), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = ModuleRoot(tb)
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	actual, _ := builds.LoadOrStore(key, dir)
	return actual.(string)
}

// Binary is Dir's binary itself.
func Binary(tb testing.TB, pkg string, stamps ...string) string {
	tb.Helper()
	return filepath.Join(Dir(tb, pkg, stamps...), filepath.Base(pkg))
}

// Cleanup removes every binary built in this process; call it from
// TestMain once the tests are done.
func Cleanup() {
	builds.Range(func(_, dir any) bool {
		os.RemoveAll(dir.(string))
		return true
	})
}
