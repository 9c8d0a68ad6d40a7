//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// warm installs into a namespace of its own: it makes it privileged for
// Pod Security Admission and remove deletes it whole. A team's namespace
// given with -n is refused, nothing applied, and warm remove leaves it and
// what is in it exactly as it was, even an object that copies warm's
// label and name.
func TestWarmNeverAdoptsNorDeletesWhatItDidNotCreate(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	team := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if _, err := r.Client.CoreV1().Namespaces().Create(ctx, team, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "team-config", Namespace: "team-a"}, Data: map[string]string{"k": "v"}},
		// Someone else's object with warm's name and label.
		{ObjectMeta: metav1.ObjectMeta{Name: contract.ConfigMapName, Namespace: "team-a", Labels: map[string]string{warm.PartOfLabel: warm.PartOf}}},
	} {
		if _, err := r.Client.CoreV1().ConfigMaps("team-a").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	teamState := func() string {
		ns, err := r.Client.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		cms, _ := r.Client.CoreV1().ConfigMaps("team-a").List(ctx, metav1.ListOptions{})
		var names []string
		for _, cm := range cms.Items {
			names = append(names, cm.Name+"@"+cm.ResourceVersion)
		}
		return ns.ResourceVersion + " " + strings.Join(names, ",")
	}
	before := teamState()
	deploy := []string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", applied.Ref("apps/b1:1")}

	_, stderr, code := runPlugin(t, r.Kubeconfig, append([]string{"warm", "-n", "team-a"}, deploy[1:]...)...)
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "namespace team-a exists and warm did not create it") {
		t.Errorf("warm -n team-a: exit %d, %q; want one line refusing the namespace", code, stderr)
	}
	if got := objectsOf(ctx, t, r, "team-a"); got != "namespace Active" {
		t.Errorf("warm -n team-a applied something: %s", got)
	}
	_, stderr, code = runPlugin(t, r.Kubeconfig, append([]string{"warm", "-n", "Team_A"}, deploy[1:]...)...)
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, `--namespace "Team_A": not a namespace name`) {
		t.Errorf("warm -n Team_A: exit %d, %q", code, stderr)
	}

	// A real install beside it, then remove: warm's namespace goes, the
	// team's stays as it was.
	if out, stderr, code := runPlugin(t, r.Kubeconfig, deploy...); code != 0 {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, args := range [][]string{{"warm", "remove", "-n", "team-a"}, {"warm", "remove"}} {
		if out, stderr, code := runPlugin(t, r.Kubeconfig, args...); code != 0 || strings.Contains(out, "team-a") {
			t.Errorf("%v: exit %d\n%s\n%s", args, code, out, stderr)
		}
	}
	if after := teamState(); after != before {
		t.Errorf("the team's namespace changed: %s → %s", before, after)
	}
	if ns, err := r.Client.CoreV1().Namespaces().Get(ctx, "winimage-system", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		t.Error("warm remove left warm's own namespace")
	}
}
