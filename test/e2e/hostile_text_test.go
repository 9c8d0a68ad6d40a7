//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// hostileText retitles the window, rings the bell, clears the screen (with
// a 7-bit and a C1 CSI), deletes, holds a byte that is not UTF-8 (a CSI to
// an 8-bit terminal), returns the cursor to overwrite the line and forges a
// line of its own.
const hostileText = "\x1b]0;pwned\a\x1b[2J\u009b2J\x7f\x9b\rall 3 nodes warm\nforged line"

// escapedText is hostileText as the table printer's escaping shows it (up to
// the carriage return, where a cell is cut), escapedJSONText the same once a
// JSON document carried it (the lone byte decoded as U+FFFD), and quotedText
// as a field error quotes a bad value (Go's %q, as apimachinery's field
// errors do).
const (
	escapedText     = "^[]0;pwned^G^[[2J\\u009b2J^?\\x9b"
	escapedJSONText = "^[]0;pwned^G^[[2J\\u009b2J^?\uFFFD"
	quotedText      = `\x1b]0;pwned\a\x1b[2J\u009b2J\x7f\x9b\rall 3 nodes warm\nforged line`
)

// machineForm is hostileText's start as each machine format escapes it.
var machineForm = map[string]string{"yaml": `\e]0;pwned\a\e[2J\x9B2J\x7F`, "json": `\u001b]0;pwned\u0007\u001b[2J\u009b2J\u007f`}

// noRawControls fails when out holds a control other than newline and tab
// (C0, DEL, C1), a byte that is not UTF-8, or the forged line, or lacks
// the escaped form that shows where the hostile text went.
func noRawControls(t *testing.T, path, out string, shown ...string) {
	t.Helper()
	if i := strings.IndexFunc(out, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) }); i >= 0 {
		t.Errorf("%s: raw control %q at %d:\n%q", path, out[i:i+1], i, out)
	}
	if !utf8.ValidString(out) {
		t.Errorf("%s: bytes that are not UTF-8:\n%q", path, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "forged line") {
			t.Errorf("%s: the hostile text forged a line:\n%q", path, out)
		}
	}
	if len(shown) == 0 {
		shown = []string{escapedText}
	}
	for _, s := range shown {
		if !strings.Contains(out, s) {
			t.Errorf("%s: the hostile text is not shown as %q:\n%q", path, s, out)
		}
	}
}

// Text others wrote reaches the terminal escaped on every human-readable
// path: an image reference in a pod spec and on the command line, a
// failure reason and a warning a node's daemon published, a registry's
// error body. An image list over what a ConfigMap holds is refused before
// anything is applied.
func TestHostileInputs(t *testing.T) {
	r, applied := startRig(t, warmFleet)
	ctx := context.Background()

	phase(t, "an image list over a ConfigMap", func(t *testing.T) {
		var list strings.Builder
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&list, "r.example/%s/app-%04d:1\n", strings.Repeat("p", 200), i)
		}
		file := filepath.Join(t.TempDir(), "images.txt")
		if err := os.WriteFile(file, []byte(list.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", "--from-file", file)
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, `"5000 references"`) ||
			!regexp.MustCompile(`a ConfigMap holds; the first 4[0-9]{3} fit`).MatchString(stderr) {
			t.Errorf("warm of 5000 long references: exit %d, %q", code, stderr)
		}
		if _, err := r.Client.CoreV1().Namespaces().Get(ctx, "winimage-system", metav1.GetOptions{}); err == nil {
			t.Error("the namespace was created for a list no ConfigMap holds")
		}
	})

	phase(t, "an image reference", func(t *testing.T) {
		ref := "r.example/app:1" + hostileText
		_, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", ref)
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("warm of a hostile reference: exit %d, %q", code, stderr)
		}
		noRawControls(t, "warm's error line", stderr, quotedText)

		// Written in protobuf, as anyone may: JSON would have turned the
		// byte that is not UTF-8 into U+FFFD on the way in.
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hostile", Namespace: "default"}, Spec: corev1.PodSpec{
			NodeName:         applied.Nodes["win"][0],
			Containers:       []corev1.Container{{Name: "app", Image: ref}},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "creds" + hostileText}},
		}}
		if _, err := protobufClient(t, r).CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := runPlugin(t, r.Kubeconfig, "audit", "--no-registry")
		noRawControls(t, "audit's tables", out+stderr)
		if code != 0 && code != 2 {
			t.Errorf("audit: exit %d\n%s", code, stderr)
		}
		for _, format := range []string{"yaml", "json"} {
			// bake plans from the same pods: the reference reaches its
			// notes (its registry cannot be read).
			for _, args := range [][]string{{"audit", "--no-registry", "-o", format}, {"bake", "-o", format}} {
				out, stderr, code := runPlugin(t, r.Kubeconfig, args...)
				noRawControls(t, strings.Join(args, " "), out+stderr, machineForm[format])
				var back map[string]any
				if err := yaml.Unmarshal([]byte(out), &back); (code != 0 && code != 2) || err != nil {
					t.Errorf("%v: exit %d, parse %v\n%s", args, code, err, stderr)
				}
			}
		}
		if err := r.Client.CoreV1().Pods("default").Delete(ctx, "hostile", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	phase(t, "a registry error body", func(t *testing.T) {
		hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, hostileText, http.StatusInternalServerError)
		}))
		defer hostile.Close()
		host := strings.TrimPrefix(hostile.URL, "http://")
		out, stderr, code := runPlugin(t, r.Kubeconfig, "bake", "--ami-cached", host+"/windows/servercore:ltsc2022")
		if code != 0 {
			t.Fatalf("bake: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(out, "note: build 20348: could not read "+host) {
			t.Errorf("no note of the registry's error:\n%s", out)
		}
		noRawControls(t, "bake's notes", out)
	})

	phase(t, "a daemon's failure reason and warning", func(t *testing.T) {
		images := []string{applied.Ref("apps/a1:1")}
		deploy := append([]string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e"}, images...)
		if _, stderr, code := runPlugin(t, r.Kubeconfig, deploy...); code != 0 {
			t.Fatalf("warm: exit %d\n%s", code, stderr)
		}
		linuxNodes := append(append([]string{}, applied.Nodes["workers"]...), applied.Nodes["more"]...)
		var pods []corev1.Pod
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			list, err := r.Client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{LabelSelector: warm.ComponentLabel + "=daemon"})
			if err != nil {
				return false, err
			}
			pods = list.Items
			return len(pods) == len(linuxNodes), nil
		}); err != nil {
			t.Fatalf("daemon pods: %d (%v)", len(pods), err)
		}
		// What a node's daemon could publish: every node failed, with the
		// registry's text as the reason and a warning of its own.
		for _, p := range pods {
			prog := contract.Progress{Node: p.Spec.NodeName, Pod: p.Name, Updated: time.Now(), Warnings: []string{"pins " + hostileText},
				Snapshot: contract.Snapshot{Done: true, Total: 1, Images: []contract.ImageState{
					{Ref: images[0], State: contract.Failed, Reason: "pull: " + hostileText},
				}}}
			doc, _ := json.Marshal(prog)
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{contract.AnnotationProgress: string(doc)}}})
			if _, err := r.Client.CoreV1().Pods("winimage-system").Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		out, stderr, code := runPlugin(t, r.Kubeconfig, append(deploy, "--wait", "--timeout", "1m")...)
		if code == 0 {
			t.Errorf("warm --wait with every node failed: exit 0\n%s", out)
		}
		noRawControls(t, "warm --wait's lines and table", out+stderr, escapedJSONText)
		for _, args := range [][]string{{"warm", "status", "--os", "linux"}, {"warm", "status", "--os", "linux", "-o", "wide"}} {
			out, stderr, _ := runPlugin(t, r.Kubeconfig, args...)
			noRawControls(t, strings.Join(args, " "), out+stderr, escapedJSONText)
		}
		for _, format := range []string{"yaml", "json"} {
			out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "status", "--os", "linux", "-o", format)
			noRawControls(t, "warm status -o "+format, out+stderr, machineForm[format])
			var back map[string]any
			if err := yaml.Unmarshal([]byte(out), &back); code != 0 || err != nil {
				t.Errorf("warm status -o %s: exit %d, parse %v\n%s", format, code, err, stderr)
			}
		}

		// 60 images behind a registry's 80 KiB error page: the document
		// a daemon's publisher writes still fits the pod's annotations,
		// which the API server refuses past 256 KiB in all.
		page := strings.Repeat("<html>400 Bad Request</html> ", 2800)
		snap := contract.Snapshot{Done: true, Total: 60}
		for i := range 60 {
			snap.Images = append(snap.Images, contract.ImageState{Ref: fmt.Sprintf("r.example/app-%02d:1", i), State: contract.Failed, Reason: "pull: " + page})
		}
		pub := &report.Publisher{Client: r.Client, Namespace: "winimage-system", PodName: pods[0].Name, NodeName: pods[0].Spec.NodeName, Log: slog.New(slog.DiscardHandler)}
		stopped, stop := context.WithCancel(ctx)
		stop()
		pub.Run(stopped, nil, func() contract.Snapshot { return snap })
		pod, err := r.Client.CoreV1().Pods("winimage-system").Get(ctx, pods[0].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		prog, err := contract.ParseProgress(pod.Annotations[contract.AnnotationProgress])
		if err != nil || prog.Total != 60 || len(prog.Images)+prog.Omitted() != 60 {
			t.Errorf("the published document: total %d, %d shown, %d left out, %v", prog.Total, len(prog.Images), prog.Omitted(), err)
		}
		if _, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove"); code != 0 {
			t.Fatalf("remove: exit %d\n%s", code, stderr)
		}
	})
}

// protobufClient writes as a protobuf client does, which carries strings
// byte for byte.
func protobufClient(t *testing.T, r *rig.Rig) kubernetes.Interface {
	t.Helper()
	cfg := *r.RESTConfig
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	c, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
