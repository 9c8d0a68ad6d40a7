//go:build linux

package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var profileDir = flag.String("winimage.profiles", filepath.Join(os.TempDir(), "winimage-bench-profiles"), "where the benchmarks keep the CPU profiles they take of the plugin")

// profileArgs are the plugin flags that write a CPU profile named name into
// the profile folder, and the file's path.
func profileArgs(b *testing.B, name string) ([]string, string) {
	if err := os.MkdirAll(*profileDir, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(*profileDir, name+".pprof")
	return []string{"--profile", "cpu", "--profile-output", path}, path
}

// printProfile prints the heaviest functions of a CPU profile by
// cumulative time, where the plugin's own time went.
func printProfile(b *testing.B, bin, path string, lines int) {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", fmt.Sprintf("-nodecount=%d", lines), bin, path).CombinedOutput()
	if err != nil {
		b.Logf("go tool pprof %s: %v\n%s", path, err, out)
		return
	}
	fmt.Printf("  CPU profile %s (go tool pprof -top -cum):\n", path)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Println("    " + l)
	}
}
