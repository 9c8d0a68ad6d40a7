//go:build linux

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// release runs the release tool from the module root (it builds packages
// by their ./cmd/… paths).
func release(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(gobuild.Binary(t, "./cmd/winimage-release"), args...)
	cmd.Dir = gobuild.ModuleRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("winimage-release %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func rigBinaries(t *testing.T) rig.Binaries {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the rig's kubectl and krew (run without -short)")
	}
	bins, err := rig.Build(context.Background(), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	return bins
}

func TestDistIsDeterministicValidatesAndInstallsThroughKrew(t *testing.T) {
	bins := rigBinaries(t)
	tmp := t.TempDir()
	const version = "v0.1.0-e2e.1"
	const daemonImage = "registry.example/winimage-daemon@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dist := func(out string) {
		release(t, "dist", "--version", version, "--commit", "e2e", "--daemon-image", daemonImage,
			"--platforms", "linux/amd64,windows/amd64", "--out", out, "--manifest", filepath.Join(out, "winimage.yaml"), "--mtime", "1700000000")
	}
	out1, out2 := filepath.Join(tmp, "dist1"), filepath.Join(tmp, "dist2")
	dist(out1)
	dist(out2)
	tarball := "kubectl-winimage_" + version + "_linux_amd64.tar.gz"
	for _, name := range []string{tarball, "kubectl-winimage_" + version + "_windows_amd64.zip", "checksums.txt", "winimage.yaml"} {
		a, err := os.ReadFile(filepath.Join(out1, name))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(out2, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", name)
		}
	}

	// krew's own validator accepts the generated manifest and the one in
	// the repository.
	validator, err := rig.KrewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{filepath.Join(out1, "winimage.yaml"), filepath.Join(gobuild.ModuleRoot(t), "krew", "winimage.yaml")} {
		if b, err := exec.Command(validator, "-manifest", m, "-skip-install").CombinedOutput(); err != nil {
			t.Errorf("validate-krew-manifest %s: %v\n%s", m, err, b)
		}
	}

	// Install into an empty KREW_ROOT from the archive, run it through
	// kubectl's plugin discovery, uninstall.
	krewBin, err := rig.KrewBinary()
	if err != nil {
		t.Fatal(err)
	}
	root, binDir := filepath.Join(tmp, "krew-root"), filepath.Join(tmp, "bin")
	os.MkdirAll(binDir, 0o755)
	if err := os.Symlink(krewBin, filepath.Join(binDir, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "KREW_ROOT="+root, "PATH="+filepath.Join(root, "bin")+":"+binDir+":"+filepath.Dir(bins.Kubectl)+":/usr/bin:/bin",
		"KUBECONFIG="+filepath.Join(tmp, "no-kubeconfig"))
	kubectl := func(args ...string) (string, error) {
		cmd := exec.Command(bins.Kubectl, args...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	if out, err := kubectl("krew", "install", "--manifest="+filepath.Join(out1, "winimage.yaml"), "--archive="+filepath.Join(out1, tarball)); err != nil {
		t.Fatalf("krew install: %v\n%s", err, out)
	}
	out, err := kubectl("winimage", "version", "--client")
	if err != nil || !strings.Contains(out, version) || !strings.Contains(out, daemonImage) {
		t.Errorf("kubectl winimage version --client: %v\n%s", err, out)
	}
	if out, err := kubectl("plugin", "list", "--name-only"); err != nil || !strings.Contains(out, "kubectl-winimage") {
		t.Errorf("kubectl plugin list: %v\n%s", err, out)
	}
	// uninstall wants an initialized index, which `kubectl krew update`
	// would clone from GitHub; with no network, an empty git repository
	// stands in for it.
	index := filepath.Join(root, "index", "default")
	if b, err := exec.Command("git", "init", "-q", index).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, b)
	}
	os.MkdirAll(filepath.Join(index, "plugins"), 0o755)
	if out, err := kubectl("krew", "uninstall", "winimage"); err != nil {
		t.Fatalf("krew uninstall: %v\n%s", err, out)
	}
	for _, p := range []string{"bin/kubectl-winimage", "store/winimage", "receipts/winimage.yaml"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall: %v", p, err)
		}
	}
	if out, err := kubectl("winimage", "version", "--client"); err == nil {
		t.Errorf("plugin still found after uninstall:\n%s", out)
	}
}
