//go:build linux

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

func stateOf(p []contract.ImageState, ref string) contract.ImageState {
	for _, s := range p {
		if s.Ref == ref {
			return s
		}
	}
	return contract.ImageState{}
}

func TestDaemonFailsBadImagesClearlyAndWarmsTheRest(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	private := privateRegistry(t)
	good := applied.Ref("apps/b1:1")
	missing := applied.Ref("apps/nothere:1")
	unauthorized := private.Host() + "/team/secret:1"
	windowsOnly := applied.Ref("apps/winonly:1")
	if _, err := imagefixtures.Push(context.Background(), r.Registry.Host(), imagefixtures.Spec{Images: []imagefixtures.Image{
		{Ref: "apps/winonly:1", Layers: []resource.Quantity{resource.MustParse("8Ki")}, Windows: []string{"10.0.20348.2582"}},
	}}); err != nil {
		t.Fatal(err)
	}
	badRef := applied.Ref("apps/Not-Valid:1")
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{good, missing, unauthorized, windowsOnly, badRef}})
	p := d.waitDone(2 * time.Minute)
	if s := stateOf(p.Images, good); s.State != contract.Ready {
		t.Errorf("good image: %+v", s)
	}
	for ref, want := range map[string]string{missing: "404", unauthorized: "401", windowsOnly: "no match for platform linux/amd64", badRef: "not a valid image reference"} {
		s := stateOf(p.Images, ref)
		if s.State != contract.Failed || !strings.Contains(s.Reason, want) {
			t.Errorf("%s: %s %q, want Failed with %q", ref, s.State, s.Reason, want)
		}
		if criImage(t, r.Containerd, ref) != nil {
			t.Errorf("%s is in the CRI image list after failing", ref)
		}
	}
	if p.AllReady() {
		t.Error("AllReady with failed images")
	}
	// The node carries a WarmFailed event naming what failed.
	var failedEvent string
	eventually.Within(10*time.Second, func() bool {
		evs, _ := r.Client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + applied.Nodes["workers"][0] + ",reason=WarmFailed"})
		if len(evs.Items) > 0 {
			failedEvent = evs.Items[0].Message
		}
		return failedEvent != ""
	})
	if !strings.Contains(failedEvent, "4 of 5 images not warm") || !strings.Contains(failedEvent, missing) {
		t.Errorf("WarmFailed event = %q", failedEvent)
	}
	// The readiness probe passes once the pass settled, failures and all:
	// one bad image must not hold every rolling update of the DaemonSet.
	if _, stderr, code := runCmd(daemonBinary(t), "probe", "--state-file", d.stateFile); code != 0 {
		t.Errorf("probe failed after the pass settled: exit %d: %s", code, stderr)
	}
	_ = d.stop()

	// With the pull secret mounted (as the DaemonSet mounts it), the private
	// image is pulled through containerd's resolver with its credentials.
	secrets := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("u:p"))
	if err := os.MkdirAll(filepath.Join(secrets, "regcred"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "regcred", ".dockerconfigjson"), []byte(`{"auths":{"`+private.Host()+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][1], containerd: r.Containerd, images: []string{unauthorized}, extra: []string{"--pull-secrets-dir", secrets}})
	if p := d2.waitDone(time.Minute); !p.AllReady() {
		t.Fatalf("with the pull secret: %+v", p)
	}
	if img := criImage(t, r.Containerd, unauthorized); img == nil || !img.Pinned {
		t.Errorf("private image through CRI: %+v", img)
	}
}

// bigImageFleet has one image that, with the registry throttled to 4 MiB/s
// per blob, takes a few seconds to pull: long enough to interrupt.
const bigImageFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: apps/big:1, layers: [8Mi, 8Mi, 8Mi], linux: true}
nodeGroups:
- {name: workers, kind: managed, os: linux, count: 1, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
`

// waitPulling waits until the daemon has fetched some but not all bytes.
func waitPulling(t *testing.T, d *daemon, ref string) {
	t.Helper()
	var seen []string
	eventually.True(t, time.Minute, fmt.Sprintf("the pull of %s in progress", ref), func() bool {
		s := stateOf(d.state().Images, ref)
		seen = append(seen, fmt.Sprintf("%s %d/%d", s.State, s.BytesDone, s.BytesTotal))
		if s.State == contract.Ready {
			t.Fatalf("pull finished before it could be interrupted; saw %v", compact(seen))
		}
		return s.State == contract.Pulling && s.BytesDone > 0 && s.BytesDone < s.BytesTotal
	})
}

func compact(states []string) []string {
	var out []string
	for _, s := range states {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

func TestDaemonSurvivesRegistryOutageMidPull(t *testing.T) {
	r, applied := startRig(t, bigImageFleet)
	ref := applied.Ref("apps/big:1")
	r.Registry.Throttle(4 << 20)
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref}})
	waitPulling(t, d, ref)
	r.Registry.Stop()
	// While the registry is away the image must not be Ready.
	time.Sleep(2 * time.Second)
	if s := stateOf(d.state().Images, ref); s.State == contract.Ready {
		t.Fatalf("Ready while the registry was down: %+v", s)
	}
	if err := r.Registry.Start(); err != nil {
		t.Fatal(err)
	}
	r.Registry.Throttle(0)
	p := d.waitDone(3 * time.Minute)
	s := stateOf(p.Images, ref)
	if s.State != contract.Ready || s.Attempts < 1 {
		t.Fatalf("after the outage: %+v", s)
	}
	if img := criImage(t, r.Containerd, ref); img == nil || !img.Pinned {
		t.Fatalf("CRI after the outage: %+v", img)
	}
}

func TestDaemonSurvivesContainerdRestartMidPull(t *testing.T) {
	r, applied := startRig(t, bigImageFleet)
	ref := applied.Ref("apps/big:1")
	r.Registry.Throttle(4 << 20)
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref}})
	waitPulling(t, d, ref)
	if err := r.Containerd.Restart(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	p := d.waitDone(3 * time.Minute)
	if s := stateOf(p.Images, ref); s.State != contract.Ready {
		t.Fatalf("after the containerd restart: %+v", s)
	}
	if img := criImage(t, r.Containerd, ref); img == nil || !img.Pinned {
		t.Fatalf("CRI after the restart: %+v", img)
	}
}
