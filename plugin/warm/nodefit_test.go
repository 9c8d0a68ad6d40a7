package warm

import (
	"path"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestDaemonSetFitsRealWindowsNodes pins what a Linux-only run never shows
// but EKS Windows nodes and clusters need, for both OS renderings.
func TestDaemonSetFitsRealWindowsNodes(t *testing.T) {
	for _, goos := range []string{"windows", "linux"} {
		cfg := base()
		cfg.OS, cfg.PullSecrets = goos, []string{"regcred", "other"}
		objs, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Pod Security Admission at baseline or restricted would refuse
		// every HostProcess (privileged) pod.
		ns := find(objs, "Namespace")
		if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
			t.Errorf("%s: namespace labels %v", goos, ns.GetLabels())
		}
		ds := find(objs, "DaemonSet")
		spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
		c := spec["containers"].([]any)[0].(map[string]any)
		// An exec probe on a disk busy importing layers is slow.
		if to, _, _ := unstructured.NestedInt64(c, "readinessProbe", "timeoutSeconds"); to < 10 {
			t.Errorf("%s: readiness probe timeout %d s", goos, to)
		}
		// Stop signals do not reach the daemon on Windows 2022+; nothing
		// is gained by waiting the default 30 s.
		if g, ok, _ := unstructured.NestedInt64(spec, "terminationGracePeriodSeconds"); !ok || g > 15 {
			t.Errorf("%s: terminationGracePeriodSeconds %d (set: %v)", goos, g, ok)
		}
		// No volume inside another: kubelet cannot make a mount point
		// inside a read-only ConfigMap volume it rewrites.
		var mounts []string
		for _, m := range c["volumeMounts"].([]any) {
			mounts = append(mounts, m.(map[string]any)["mountPath"].(string))
		}
		for _, a := range mounts {
			for _, b := range mounts {
				if a != b && strings.HasPrefix(b, a+"/") {
					t.Errorf("%s: %s is mounted inside %s", goos, b, a)
				}
			}
		}
		// The list the daemon reads is in the ConfigMap's mount.
		cmd := toStrings(c["command"].([]any))
		for i, a := range cmd {
			if a == "--images" && !containsString(mounts, path.Dir(cmd[i+1])) {
				t.Errorf("%s: --images %s is not in a mounted folder (%v)", goos, cmd[i+1], mounts)
			}
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
