package warm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func find(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

func base() Config {
	return Config{Namespace: "winimage-system", OS: "windows", DaemonImage: "r.example/winimage-daemon@sha256:" + strings.Repeat("a", 64), Images: []string{"r.example/app:1", "mcr.microsoft.com/windows/servercore:ltsc2022"}}
}

func TestRenderWindowsHostProcessDaemonSet(t *testing.T) {
	objs, err := Render(base())
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].GetKind() != "Namespace" || objs[len(objs)-1].GetKind() != "DaemonSet" {
		t.Fatalf("apply order: %s first, %s last", objs[0].GetKind(), objs[len(objs)-1].GetKind())
	}
	ds := find(objs, "DaemonSet")
	spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
	if hp, _, _ := unstructured.NestedBool(spec, "securityContext", "windowsOptions", "hostProcess"); !hp {
		t.Error("not a HostProcess pod")
	}
	if user, _, _ := unstructured.NestedString(spec, "securityContext", "windowsOptions", "runAsUserName"); user != `NT AUTHORITY\SYSTEM` {
		t.Errorf("runAsUserName %q", user)
	}
	if sel, _, _ := unstructured.NestedStringMap(spec, "nodeSelector"); sel["kubernetes.io/os"] != "windows" {
		t.Errorf("nodeSelector %v", sel)
	}
	if l, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "metadata", "labels"); l[PartOfLabel] != PartOf || l[ComponentLabel] != "daemon" {
		t.Errorf("pod template labels %v: status finds daemon pods by them", l)
	}
	c := spec["containers"].([]any)[0].(map[string]any)
	if c["image"] != "r.example/winimage-daemon@sha256:"+strings.Repeat("a", 64) {
		t.Errorf("image %v", c["image"])
	}
	for _, o := range objs {
		if o.GetLabels()[PartOfLabel] != PartOf {
			t.Errorf("%s/%s lacks the part-of label", o.GetKind(), o.GetName())
		}
		if ns := o.GetNamespace(); o.GetKind() != "Namespace" && o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" && ns != "winimage-system" {
			t.Errorf("%s/%s in namespace %q", o.GetKind(), o.GetName(), ns)
		}
	}
	cm := find(objs, "ConfigMap")
	list, _, _ := unstructured.NestedString(cm.Object, "data", "images.yaml")
	if !strings.Contains(list, "ref: r.example/app:1") || !strings.Contains(list, "ref: mcr.microsoft.com/windows/servercore:ltsc2022") {
		t.Errorf("image list:\n%s", list)
	}
	// Without the startup taint the daemon cannot change nodes.
	if v := clusterRoleVerbs(t, objs); strings.Contains(v, "update") || strings.Contains(v, "patch") {
		t.Error("ClusterRole lets the daemon change nodes without --startup-taint")
	}
}

func clusterRoleVerbs(t *testing.T, objs []*unstructured.Unstructured) string {
	rules, _, _ := unstructured.NestedSlice(find(objs, "ClusterRole").Object, "rules")
	var b strings.Builder
	for _, r := range rules {
		for _, v := range r.(map[string]any)["verbs"].([]any) {
			b.WriteString(v.(string) + " ")
		}
	}
	return b.String()
}

func TestRenderOptionsAndLinuxOverlay(t *testing.T) {
	cfg := base()
	cfg.OS, cfg.Namespace = "linux", "warmers"
	cfg.PullSecrets = []string{"regcred"}
	cfg.MaxConcurrentNodes, cfg.StartupTaint, cfg.DiscardUnpackedLayers = 5, "winimage.io/warming", true
	cfg.NodeSelector = map[string]string{"eks.amazonaws.com/nodegroup": "ng-a"}
	cfg.Proxy = map[string]string{"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "169.254.169.254,.internal"}
	objs, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ds := find(objs, "DaemonSet")
	if ds.GetNamespace() != "warmers" {
		t.Errorf("namespace %s", ds.GetNamespace())
	}
	spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
	sel, _, _ := unstructured.NestedStringMap(spec, "nodeSelector")
	if sel["kubernetes.io/os"] != "linux" || sel["eks.amazonaws.com/nodegroup"] != "ng-a" {
		t.Errorf("nodeSelector %v", sel)
	}
	c := spec["containers"].([]any)[0].(map[string]any)
	cmd := strings.Join(toStrings(c["command"].([]any)), " ")
	for _, want := range []string{"winimage-daemon run", "--max-concurrent-nodes 5", "--startup-taint winimage.io/warming", "--discard-unpacked-layers", "--pull-secrets-dir /etc/winimage/pull-secrets"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command %q lacks %q", cmd, want)
		}
	}
	env := map[string]string{}
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		env[e["name"].(string)], _ = e["value"].(string)
	}
	_, hasNode := env["NODE_NAME"]
	if env["HTTPS_PROXY"] != "http://proxy.corp:3128" || env["NO_PROXY"] != "169.254.169.254,.internal" || !hasNode {
		t.Errorf("container env %v: the proxy settings, and the downward API kept", env)
	}
	if priv, _, _ := unstructured.NestedBool(c, "securityContext", "privileged"); !priv {
		t.Error("Linux daemon is not privileged")
	}
	var mounts []string
	for _, m := range c["volumeMounts"].([]any) {
		mounts = append(mounts, m.(map[string]any)["mountPath"].(string))
	}
	if got := strings.Join(mounts, ","); !strings.Contains(got, "/etc/winimage/pull-secrets/regcred") || !strings.Contains(got, "/run/containerd/containerd.sock") || !strings.Contains(got, "/etc/winimage") {
		t.Errorf("mounts %s", got)
	}
	if !strings.Contains(clusterRoleVerbs(t, objs), "patch") {
		t.Error("--startup-taint without node patch permission")
	}
	if ns := find(objs, "Namespace"); ns.GetName() != "warmers" || ns.GetAnnotations()[StartupTaintAnnotation] != "winimage.io/warming" || ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %s %v %v: the startup taint recorded for remove, the labels kept", ns.GetName(), ns.GetAnnotations(), ns.GetLabels())
	}
	if crb := find(objs, "ClusterRoleBinding"); crb.Object["subjects"].([]any)[0].(map[string]any)["namespace"] != "warmers" {
		t.Errorf("ClusterRoleBinding subject not in the chosen namespace: %v", crb.Object["subjects"])
	}
}

func TestValidateRejectsBadInputBeforeRendering(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"bad image":     func(c *Config) { c.Images = append(c.Images, "r.example/UPPER:1") },
		"no images":     func(c *Config) { c.Images = nil },
		"twice":         func(c *Config) { c.Images = append(c.Images, "r.example/app:1") },
		"os":            func(c *Config) { c.OS = "plan9" },
		"daemon image":  func(c *Config) { c.DaemonImage = "" },
		"secret name":   func(c *Config) { c.PullSecrets = []string{"a/b"} },
		"negative pace": func(c *Config) { c.MaxConcurrentNodes = -1 },
	} {
		cfg := base()
		mutate(&cfg)
		if _, err := Render(cfg); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func toStrings(in []any) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = v.(string)
	}
	return out
}

func TestDiskThresholdReachesTheDaemonOnlyWhenNotTheDefault(t *testing.T) {
	command := func(threshold float64) string {
		objs, err := Render(Config{Namespace: "winimage-system", OS: "linux", DaemonImage: "r.example/d:1", Images: []string{"r.example/a:1"}, DiskThreshold: threshold})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == "DaemonSet" {
				cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				return fmt.Sprint(cs[0].(map[string]any)["command"])
			}
		}
		return ""
	}
	if c := command(0.83); !strings.Contains(c, "--disk-threshold 0.83") {
		t.Errorf("0.83: %s", c)
	}
	if c := command(contract.DefaultDiskThreshold); strings.Contains(c, "--disk-threshold") {
		t.Errorf("the default rendered: %s", c)
	}
	// Past kubelet's eviction line pinned images would put the node under
	// disk pressure; 1 is the explicit way to turn the guard off.
	if _, err := Render(Config{Namespace: "n", OS: "linux", DaemonImage: "r.example/d:1", Images: []string{"r.example/a:1"}, DiskThreshold: 0.9}); err == nil {
		t.Error("0.9, past kubelet's eviction line, accepted")
	}
	if c := command(1); !strings.Contains(c, "--disk-threshold 1") {
		t.Errorf("1 (guard off): %s", c)
	}
	if _, err := Render(Config{Namespace: "n", OS: "linux", DaemonImage: "r.example/d:1", Images: []string{"r.example/a:1"}, DiskThreshold: 85}); err == nil {
		t.Error("85 (a percentage) accepted as a fraction")
	}
}

// A list the API server would refuse in the ConfigMap is refused before
// rendering, with how many references fit; the list that fits renders.
func TestValidateRefusesAListOverWhatAConfigMapHolds(t *testing.T) {
	var refs []string
	for i := 0; i < 5000; i++ {
		refs = append(refs, fmt.Sprintf("r.example/%s/app-%04d:1", strings.Repeat("p", 200), i))
	}
	cfg := Config{OS: "windows", DaemonImage: "r.example/winimage-daemon:1", Images: refs}
	err := cfg.Validate()
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Type != field.ErrorTypeTooMany || fe.Field != "images" {
		t.Fatalf("5000 long references: %v", err)
	}
	var fit int
	if _, scanErr := fmt.Sscanf(fe.Detail[strings.LastIndex(fe.Detail, "the first "):], "the first %d fit", &fit); scanErr != nil {
		t.Fatalf("no count in %q", fe.Detail)
	}
	cfg.Images = refs[:fit]
	objs, err := Render(cfg)
	if err != nil {
		t.Fatalf("the %d that fit: %v", fit, err)
	}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" {
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			total := 0
			for _, v := range data {
				total += len(v)
			}
			if total > 1<<20 || total < 1<<20-300 {
				t.Errorf("the ConfigMap of the %d that fit holds %d bytes", fit, total)
			}
		}
	}
	cfg.Images = refs[:fit+1]
	if err := cfg.Validate(); err == nil {
		t.Errorf("%d references, one more than fit, passed", fit+1)
	}
}
