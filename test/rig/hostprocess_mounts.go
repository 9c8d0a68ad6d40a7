//go:build linux

package rig

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// MountMode is how a HostProcess container sees its pod's volumes, which
// depends on the Windows host (github.com/Microsoft/hcsshim v0.15.0-rc.4,
// internal/jobcontainers storage.go fileBindingSupported, mounts.go).
type MountMode int

const (
	// NoBindFilter is Windows Server 2019 (no bindfltapi.dll): every volume
	// only under $CONTAINER_SANDBOX_MOUNT_POINT, never at its mountPath
	// (fallbackMountSetup).
	NoBindFilter MountMode = iota
	// BindFilter is Windows Server 2022 and later: the volume is bound at
	// its mountPath in the container's private view of the file system,
	// read-only when mounted so, and also linked under the sandbox for
	// backward compatibility, best effort (setupMounts). The stand-in binds
	// in a private mount namespace and symlinks the sandbox path to the
	// volume's folder.
	BindFilter
)

func (m MountMode) String() string {
	if m == BindFilter {
		return "bind filter (Server 2022+)"
	}
	return "no bind filter (Server 2019)"
}

// SetMountMode sets how pods on node see their volumes (default
// NoBindFilter). It applies to pods started afterwards.
func (k *Kubelet) SetMountMode(node string, m MountMode) error {
	if m == BindFilter {
		if err := BindFilterSupported(); err != nil {
			return err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.mountModes[node] = m
	return nil
}

func (k *Kubelet) mountMode(node string) MountMode {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.mountModes[node]
}

// ErrNoMountNamespace: this machine cannot give a process a private mount
// namespace (no CAP_SYS_ADMIN, or no util-linux unshare).
var ErrNoMountNamespace = errors.New("no private mount namespaces here (unshare --mount failed)")

// BindFilterSupported says whether this machine can play BindFilter.
func BindFilterSupported() error {
	if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %v %s", ErrNoMountNamespace, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// binding is one volume bound at its mountPath.
type binding struct {
	source, dest string
	readOnly     bool
}

// volumeDir is where the stand-in writes a volume's files: under the
// sandbox at its mountPath without the bind filter; with it, in a folder of
// its own (kubelet's pods/UID/volumes), which the sandbox path links to.
func (k *Kubelet) volumeDir(pod *corev1.Pod, sandbox, volume, mountPath string) (string, error) {
	inSandbox := filepath.Join(sandbox, filepath.FromSlash(mountPath))
	if k.mountMode(pod.Spec.NodeName) != BindFilter {
		return inSandbox, nil
	}
	dir := filepath.Join(sandbox+"-volumes", volume)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := os.Lstat(inSandbox); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(inSandbox), 0o755); err != nil {
		return "", err
	}
	return dir, os.Symlink(dir, inSandbox)
}

// bindings lists the container's volumes as BindFilter binds them.
func (k *Kubelet) bindings(container corev1.Container, sandbox string) []binding {
	var bs []binding
	for _, m := range container.VolumeMounts {
		bs = append(bs, binding{source: filepath.Join(sandbox+"-volumes", m.Name), dest: m.MountPath, readOnly: m.ReadOnly})
	}
	bs = append(bs, binding{source: filepath.Join(sandbox+"-volumes", serviceAccountVolume), dest: serviceAccountMountPath, readOnly: true})
	return bs
}

const (
	serviceAccountVolume    = "kube-api-access"
	serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// inSilo wraps argv so it runs in a private mount namespace where each
// binding is mounted at its destination, as the bind filter shows a
// Server 2022 HostProcess container its volumes. A destination whose
// parents do not exist on this machine gets them in an overlay (upper
// layer on a tmpfs under silo) of its deepest existing ancestor, so
// nothing is created on the host.
func inSilo(silo string, bs []binding, argv []string) ([]string, error) {
	if err := os.MkdirAll(silo, 0o755); err != nil {
		return nil, err
	}
	script := []string{"set -e", fmt.Sprintf("mount -t tmpfs winimage-silo %q", silo)}
	overlaid := map[string]bool{}
	for _, b := range bs {
		anc, err := existingAncestor(b.dest)
		if err != nil {
			return nil, err
		}
		if anc != b.dest && !overlaid[anc] {
			overlaid[anc] = true
			layer := filepath.Join(silo, fmt.Sprint(len(overlaid)))
			script = append(script, fmt.Sprintf("mkdir -p %q %q", layer+"/upper", layer+"/work"),
				fmt.Sprintf("mount -t overlay winimage-silo -o lowerdir=%s,upperdir=%s,workdir=%s %q", anc, layer+"/upper", layer+"/work", anc))
		}
	}
	// Parents before children, so a nested binding lands on top.
	sort.Slice(bs, func(i, j int) bool { return bs[i].dest < bs[j].dest })
	for _, b := range bs {
		script = append(script, fmt.Sprintf("mkdir -p %q", b.dest), fmt.Sprintf("mount --bind %q %q", b.source, b.dest))
		if b.readOnly {
			script = append(script, fmt.Sprintf("mount -o remount,bind,ro %q", b.dest))
		}
	}
	script = append(script, `exec "$@"`)
	return append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", strings.Join(script, "\n"), "sh"}, argv...), nil
}

// existingAncestor is the deepest existing folder at or above path, with
// symlinks resolved (/var/run is /run on most distributions).
func existingAncestor(path string) (string, error) {
	for p := path; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if p == path {
				return path, nil
			}
			return real, nil
		}
		if p == "/" {
			return "", fmt.Errorf("no existing ancestor of %s", path)
		}
	}
}

// inPodView runs argv in the mount namespace of the pod's process pid, as
// an exec probe runs inside the container.
func inPodView(pid int, argv []string) []string {
	return append([]string{"nsenter", "--target", fmt.Sprint(pid), "--mount", "--"}, argv...)
}

// MountPoints lists the mount points (with their options) the running
// container process of the pod with uid sees: what a test checks to know a
// pod saw its volumes where its node's mount mode puts them.
func (k *Kubelet) MountPoints(uid types.UID) (map[string]string, error) {
	k.mu.Lock()
	p := k.pods[uid]
	k.mu.Unlock()
	if p == nil || p.pid.Load() == 0 {
		return nil, fmt.Errorf("pod %s has no running process", uid)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", p.pid.Load()))
	if err != nil {
		return nil, err
	}
	points := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		// mountinfo: ID parent major:minor root mountpoint options ...
		if f := strings.Fields(line); len(f) > 5 {
			points[f[4]] = f[5]
		}
	}
	return points, nil
}
