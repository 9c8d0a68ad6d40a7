//go:build linux

package rig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/rigcache"
)

// Versions of the components the rig runs. A change here builds into a new
// cache folder, so old and new builds never mix.
const (
	KubernetesVersion = "v1.37.2"
	stagingVersion    = "v0.37.2"
	EtcdVersion       = "v3.7.3"
	KwokVersion       = "v0.8.0"
	ContainerdVersion = "v2.4.2"
	CrictlVersion     = "v1.37.0"
	KrewVersion       = "v0.4.3"
)

// Binaries are the paths of the built components.
type Binaries struct {
	Etcd, APIServer, ControllerManager, Scheduler string
	// Kubectl matches the apiserver's version.
	Kubectl                 string
	Kwok, KwokStages        string
	Containerd, Ctr, Crictl string
}

type component struct {
	name    string
	version string
	files   []string
	build   func(ctx context.Context, b *builder, out string) error
}

func (c component) dir(root string) string { return filepath.Join(root, c.name+"-"+c.version) }

func (c component) built(root string) bool {
	for _, f := range c.files {
		if _, err := os.Stat(filepath.Join(c.dir(root), f)); err != nil {
			return false
		}
	}
	return true
}

var components = []component{
	{name: "kubernetes", version: KubernetesVersion, files: []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}, build: buildKubernetes},
	{name: "etcd", version: EtcdVersion, files: []string{"etcd"}, build: buildEtcd},
	{name: "kwok", version: KwokVersion, files: []string{"kwok", "stages.yaml"}, build: buildKwok},
	{name: "containerd", version: ContainerdVersion, files: []string{"containerd", "ctr"}, build: buildContainerd},
	{name: "containerd", version: Containerd17Version, files: []string{"containerd", "ctr"}, build: buildContainerdIn("github.com/containerd/containerd", Containerd17Version)},
	{name: "containerd", version: Containerd21Version, files: []string{"containerd", "ctr"}, build: buildContainerdIn("github.com/containerd/containerd/v2", Containerd21Version)},
	{name: "crictl", version: CrictlVersion, files: []string{"crictl"}, build: goInstall("sigs.k8s.io/cri-tools/cmd/crictl@" + CrictlVersion)},
	{name: "krew", version: KrewVersion, files: []string{"krew", "validate-krew-manifest"}, build: goInstalls(
		"sigs.k8s.io/krew/cmd/krew@"+KrewVersion, "sigs.k8s.io/krew/cmd/validate-krew-manifest@"+KrewVersion)},
}

// Build makes sure every component is in the cache, building what is missing
// from the Go module proxy, and returns their paths. Progress goes to log.
func Build(ctx context.Context, log io.Writer) (Binaries, error) {
	root, err := CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	unlock, err := rigcache.LockDir(root)
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()

	b := &builder{root: root, log: log}
	for _, c := range components {
		if c.built(root) {
			continue
		}
		out := c.dir(root)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return Binaries{}, err
		}
		start := time.Now()
		fmt.Fprintf(log, "rig: building %s %s into %s\n", c.name, c.version, out)
		if err := c.build(ctx, b, out); err != nil {
			return Binaries{}, fmt.Errorf("build %s %s: %w", c.name, c.version, err)
		}
		fmt.Fprintf(log, "rig: built %s %s in %s\n", c.name, c.version, time.Since(start).Round(time.Second))
	}
	return binariesIn(root), nil
}

// KrewBinary returns the cached krew binary (built by Build).
func KrewBinary() (string, error) { return krewFile("krew") }

// KrewValidator returns krew's own manifest validator, validate-krew-manifest
// (built by Build).
func KrewValidator() (string, error) { return krewFile("validate-krew-manifest") }

func krewFile(name string) (string, error) {
	root, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "krew-"+KrewVersion, name), nil
}

func binariesIn(root string) Binaries {
	at := func(name, version, file string) string { return filepath.Join(root, name+"-"+version, file) }
	return Binaries{
		Etcd:              at("etcd", EtcdVersion, "etcd"),
		APIServer:         at("kubernetes", KubernetesVersion, "kube-apiserver"),
		ControllerManager: at("kubernetes", KubernetesVersion, "kube-controller-manager"),
		Scheduler:         at("kubernetes", KubernetesVersion, "kube-scheduler"),
		Kubectl:           at("kubernetes", KubernetesVersion, "kubectl"),
		Kwok:              at("kwok", KwokVersion, "kwok"),
		KwokStages:        at("kwok", KwokVersion, "stages.yaml"),
		Containerd:        at("containerd", ContainerdVersion, "containerd"),
		Ctr:               at("containerd", ContainerdVersion, "ctr"),
		Crictl:            at("crictl", CrictlVersion, "crictl"),
	}
}

type builder struct {
	root string
	log  io.Writer
}

// workDir is a throwaway module folder for one component's build.
func (b *builder) workDir(name string) (string, error) {
	dir := filepath.Join(b.root, "work", name)
	return dir, os.MkdirAll(dir, 0o755)
}

// goCmd runs the go tool in dir with the module proxy settings of the
// environment; output is kept for the error message only.
func (b *builder) goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, lastLines(out.String(), 30))
	}
	return out.Bytes(), nil
}

// buildTo builds pkg into out/file through a temporary name, so an
// interrupted build never leaves a file that looks complete.
func (b *builder) buildTo(ctx context.Context, dir, out, file, ldflags, pkg string) error {
	tmp := filepath.Join(out, file+".tmp")
	if _, err := b.goCmd(ctx, dir, nil, "build", "-ldflags", ldflags, "-o", tmp, pkg); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(out, file))
}

var stagingReplace = regexp.MustCompile(`(?m)^\s*(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/`)

// buildKubernetes builds the control plane from k8s.io/kubernetes, whose
// go.mod points its staging modules at folders the module zip lacks; a
// throwaway module replaces each with its published v0.x release.
func buildKubernetes(ctx context.Context, b *builder, out string) error {
	dir, err := b.workDir("kubernetes-" + KubernetesVersion)
	if err != nil {
		return err
	}
	raw, err := b.goCmd(ctx, dir, nil, "mod", "download", "-json", "k8s.io/kubernetes@"+KubernetesVersion)
	if err != nil {
		return err
	}
	var dl struct{ GoMod string }
	if err := json.Unmarshal(raw, &dl); err != nil {
		return fmt.Errorf("read go mod download output: %w", err)
	}
	upstream, err := os.ReadFile(dl.GoMod)
	if err != nil {
		return err
	}
	var gomod strings.Builder
	fmt.Fprintf(&gomod, "module rigbuild/kubernetes\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n", KubernetesVersion)
	for _, m := range stagingReplace.FindAllStringSubmatch(string(upstream), -1) {
		// The sample modules are not published; nothing built here needs them.
		if strings.HasPrefix(m[1], "k8s.io/sample-cli-plugin") || strings.HasPrefix(m[1], "k8s.io/sample-controller") {
			continue
		}
		fmt.Fprintf(&gomod, "\t%s => %s %s\n", m[1], m[1], stagingVersion)
	}
	gomod.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
		return err
	}
	commands := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}
	tools := "//go:build tools\n\npackage tools\n\nimport (\n"
	for _, c := range commands {
		tools += "\t_ \"k8s.io/kubernetes/cmd/" + c + "\"\n"
	}
	tools += ")\n"
	if err := os.WriteFile(filepath.Join(dir, "tools.go"), []byte(tools), 0o644); err != nil {
		return err
	}
	if _, err := b.goCmd(ctx, dir, nil, "mod", "tidy", "-e"); err != nil {
		return err
	}
	// Without the version stamps the server reports v0.0.0-master, which
	// kubectl and version-skew logic cannot parse.
	ldflags := "-s -w"
	minor := strings.Split(KubernetesVersion, ".")[1]
	for _, p := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		ldflags += fmt.Sprintf(" -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=1 -X %[1]s.gitMinor=%[3]s -X %[1]s.gitTreeState=clean -X %[1]s.buildDate=2026-01-01T00:00:00Z -X %[1]s.gitCommit=0000000000000000000000000000000000000000", p, KubernetesVersion, minor)
	}
	for _, c := range commands {
		if _, err := os.Stat(filepath.Join(out, c)); err == nil {
			continue
		}
		start := time.Now()
		if err := b.buildTo(ctx, dir, out, c, ldflags, "k8s.io/kubernetes/cmd/"+c); err != nil {
			return err
		}
		fmt.Fprintf(b.log, "rig:   %s in %s\n", c, time.Since(start).Round(time.Second))
	}
	return nil
}

// buildEtcd uses a throwaway module because etcd's server module carries
// replace directives that `go install pkg@version` refuses.
func buildEtcd(ctx context.Context, b *builder, out string) error {
	dir, err := b.workDir("etcd-" + EtcdVersion)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		if _, err := b.goCmd(ctx, dir, nil, "mod", "init", "rigbuild/etcd"); err != nil {
			return err
		}
	}
	if _, err := b.goCmd(ctx, dir, nil, "get", "go.etcd.io/etcd/server/v3@"+EtcdVersion); err != nil {
		return err
	}
	return b.buildTo(ctx, dir, out, "etcd", "-s -w", "go.etcd.io/etcd/server/v3")
}

func buildKwok(ctx context.Context, b *builder, out string) error {
	if err := goInstall("sigs.k8s.io/kwok/cmd/kwok@"+KwokVersion)(ctx, b, out); err != nil {
		return err
	}
	return writeKwokStages(ctx, b, out)
}

// writeKwokStages concatenates kwok's "fast" stages from its module: nodes
// become Ready and keep a lease heartbeat, pods become Ready at once.
func writeKwokStages(ctx context.Context, b *builder, out string) error {
	raw, err := b.goCmd(ctx, out, nil, "mod", "download", "-json", "sigs.k8s.io/kwok@"+KwokVersion)
	if err != nil {
		return err
	}
	var dl struct{ Dir string }
	if err := json.Unmarshal(raw, &dl); err != nil {
		return err
	}
	var stages bytes.Buffer
	for _, f := range []string{
		"node/fast/node-initialize.yaml",
		"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"pod/fast/pod-ready.yaml",
		"pod/fast/pod-complete.yaml",
		"pod/fast/pod-delete.yaml",
	} {
		data, err := os.ReadFile(filepath.Join(dl.Dir, "kustomize", "stage", f))
		if err != nil {
			return err
		}
		stages.WriteString("---\n")
		stages.Write(data)
		stages.WriteString("\n")
	}
	return os.WriteFile(filepath.Join(out, "stages.yaml"), stages.Bytes(), 0o644)
}

func buildContainerd(ctx context.Context, b *builder, out string) error {
	for _, c := range []string{"containerd", "ctr"} {
		if err := goInstall("github.com/containerd/containerd/v2/cmd/"+c+"@"+ContainerdVersion)(ctx, b, out); err != nil {
			return err
		}
	}
	return nil
}

// goInstall builds a main package at a version straight from the proxy.
func goInstall(pkgAtVersion string) func(context.Context, *builder, string) error {
	return func(ctx context.Context, b *builder, out string) error {
		gobin := filepath.Join(out, "bin")
		if _, err := b.goCmd(ctx, out, []string{"GOBIN=" + gobin}, "install", "-ldflags", "-s -w", pkgAtVersion); err != nil {
			return err
		}
		name := filepath.Base(strings.SplitN(pkgAtVersion, "@", 2)[0])
		return os.Rename(filepath.Join(gobin, name), filepath.Join(out, name))
	}
}

// goInstalls installs several commands into one component.
func goInstalls(pkgsAtVersion ...string) func(context.Context, *builder, string) error {
	return func(ctx context.Context, b *builder, out string) error {
		for _, p := range pkgsAtVersion {
			if err := goInstall(p)(ctx, b, out); err != nil {
				return err
			}
		}
		return nil
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
