//go:build linux

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// accessFleet runs one image from a registry that demands credentials, with
// and without a pull secret, and one from a registry that is not there.
const accessFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
nodeGroups:
- {name: ng-a, kind: managed, count: 2, windowsVersion: 10.0.20348.2582, ami: ami-0aaa, kubelet: v1.37.1-eks-1a2b3c4}
workloads:
- {name: with-secret, namespace: private, replicas: 1, images: [%[1]s/team/app:1], pullSecrets: [regcred]}
- {name: without-secret, namespace: public, replicas: 1, images: [%[1]s/team/app:1]}
- {name: gone, namespace: public, replicas: 1, images: [127.0.0.1:1/team/gone:1]}
pullEvents:
- {image: %[1]s/team/app:1, nodeGroup: ng-a, namespace: private, durations: [2m]}
`

func TestAuditRegistryErrorsAndMinimalRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: needs the rig")
	}
	private, err := rig.NewRegistry(rig.WithBasicAuth("puller", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer private.Stop()
	ctx := context.Background()
	q := resource.MustParse
	catalog, err := imagefixtures.Push(ctx, private.Host(), imagefixtures.Spec{Images: []imagefixtures.Image{
		{Ref: "team/app:1", Layers: []resource.Quantity{q("64Ki")}, Windows: []string{"10.0.20348.2582"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := startRig(t, fmt.Sprintf(accessFleet, private.Host()))
	auth := base64.StdEncoding.EncodeToString([]byte("puller:s3cret"))
	dockercfg, _ := json.Marshal(map[string]any{"auths": map[string]any{private.Host(): map[string]string{"auth": auth}}})
	if _, err := r.Client.CoreV1().Secrets("private").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: dockercfg},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := private.Host() + "/team/app:1"
	_, entry, _ := catalog.Entry("team/app:1", "windows", "20348")

	// As admin: the image resolves with the pods' pull secret; the same
	// image without one is a 401; the missing registry is unreachable; the
	// audit goes on through all of it.
	admin := auditJSON(t, r.Kubeconfig, "-n", "private")
	if img := imageByRef(admin, ref); img == nil || img.Error != "" || len(img.Platforms) != 1 || img.Platforms[0].Size != entry.Size {
		t.Fatalf("with the pull secret: %+v, want size %d", img, entry.Size)
	}
	public := auditJSON(t, r.Kubeconfig, "-n", "public")
	if img := imageByRef(public, ref); img == nil || !strings.Contains(img.Error, "401") {
		t.Errorf("without a pull secret: %+v, want a 401 reason", img)
	}
	if img := imageByRef(public, "127.0.0.1:1/team/gone:1"); img == nil || img.Error == "" || !strings.Contains(img.Error, "connect") {
		t.Errorf("unreachable registry: %+v, want a connection error", img)
	}
	if len(public.Nodes) != 2 {
		t.Errorf("the audit did not go on past registry errors: %d nodes", len(public.Nodes))
	}

	// Under the documented least-privilege ClusterRole and the opt-in
	// pull-secret role (narrowed to the pull secret's name) the audit sees
	// everything.
	role := loadClusterRole(t, "audit/clusterrole.yaml")
	secrets := loadClusterRole(t, "audit/clusterrole-pull-secrets.yaml")
	secrets.Rules[0].ResourceNames = []string{"regcred"}
	role.Rules = append(role.Rules, secrets.Rules...)
	bindRole(ctx, t, r, role, "auditor")
	kubeconfig, err := r.ServiceAccountKubeconfig(ctx, "audit", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	least := auditJSON(t, kubeconfig, "-n", "private")
	if img := imageByRef(least, ref); img == nil || img.Error != "" || len(least.Skipped) != 0 || len(least.Pulls) != 1 {
		t.Fatalf("under the audit ClusterRole: image %+v, skipped %v, pulls %d", img, least.Skipped, len(least.Pulls))
	}

	// Without events it still works and says what it skipped; without
	// secrets the private image becomes a 401 and the secret is noted.
	role.Name = "winimage-audit-no-events"
	role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes", "pods"}, Verbs: []string{"list"}}}
	bindRole(ctx, t, r, role, "restricted")
	kubeconfig, err = r.ServiceAccountKubeconfig(ctx, "audit", "restricted")
	if err != nil {
		t.Fatal(err)
	}
	restricted := auditJSON(t, kubeconfig, "-n", "private")
	skipped := strings.Join(restricted.Skipped, "\n")
	if !strings.Contains(skipped, "pulls: events are forbidden") || !strings.Contains(skipped, "pull secret private/regcred: forbidden") {
		t.Errorf("skipped = %q, want the events and the secret named", skipped)
	}
	if img := imageByRef(restricted, ref); img == nil || !strings.Contains(img.Error, "401") {
		t.Errorf("without secret access: %+v, want 401", img)
	}
	if len(restricted.Nodes) != 2 || restricted.Pulls != nil {
		t.Errorf("restricted audit: %d nodes, pulls %v", len(restricted.Nodes), restricted.Pulls)
	}
	// Without even nodes: a clear failure.
	_, stderr, code := runPlugin(t, mustKubeconfig(ctx, t, r, "nobody"), "audit")
	if code != 1 || !strings.Contains(stderr, "forbidden") {
		t.Errorf("no RBAC at all: exit %d, %q", code, stderr)
	}
}

func bindRole(ctx context.Context, t *testing.T, r *rig.Rig, role *rbacv1.ClusterRole, sa string) {
	t.Helper()
	if _, err := r.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name + "-" + sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "audit", Name: sa}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mustKubeconfig(ctx context.Context, t *testing.T, r *rig.Rig, sa string) string {
	t.Helper()
	k, err := r.ServiceAccountKubeconfig(ctx, "audit", sa)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
