//go:build linux

package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
)

type failingKeychain struct{}

func (failingKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return nil, errors.New("ECR token helper: no credentials from the instance role")
}

// A keychain that fails (an ECR helper with no instance role, a broken
// secret) must fail a Transfer pull with that reason, not hang it: the
// Transfer client drops a credential request that errs without replying,
// and the service waits on the reply.
func TestDaemonTransferPullFailsOnACredentialError(t *testing.T) {
	r, _ := startRig(t, "")
	if r.Containerd.Line == "1.7" {
		t.Skip("containerd 1.7 has no Transfer service")
	}
	private := privateRegistry(t)
	v, err := nodeClient(t, r.Containerd.Address).Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := nodeconfig.Read(r.Containerd.ConfigFile, 2)
	if err != nil {
		t.Fatal(err)
	}
	platform := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	rt := &noderuntime.Containerd{Client: nodeClient(t, r.Containerd.Address), Snapshotter: r.Containerd.Snapshotter, Platform: platform,
		Matcher: platforms.Only(platform), Keychain: failingKeychain{}, CRI: cfg, Transfer: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = rt.Pull(ctx, private.Host()+"/team/secret:1", noderuntime.PullOptions{})
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "no credentials from the instance role") {
		t.Errorf("containerd %s: pull with a failing keychain: %v (context: %v); want a prompt failure naming the keychain's error", v.Version, err, ctx.Err())
	}
}

// A pull secret kubelet rewrites (a rotated token) is used from the next
// pass on, without restarting the daemon.
func TestDaemonUsesARotatedPullSecret(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	private := privateRegistry(t)
	ref := private.Host() + "/team/secret:1"
	secrets := t.TempDir()
	writeSecret := func(password string) {
		dir := filepath.Join(secrets, "registry")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		doc := `{"auths":{"` + private.Host() + `":{"username":"u","password":"` + password + `"}}}`
		if err := os.WriteFile(filepath.Join(dir, ".dockerconfigjson.tmp"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, ".dockerconfigjson.tmp"), filepath.Join(dir, ".dockerconfigjson")); err != nil {
			t.Fatal(err)
		}
	}
	writeSecret("expired")
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref},
		extra: []string{"--pull-secrets-dir", secrets, "--retry-interval", "1s", "--max-attempts", "1"}})
	if p := d.waitDone(time.Minute); stateOf(p.Images, ref).State != contract.Failed {
		t.Fatalf("with the expired secret: %+v", stateOf(p.Images, ref))
	}
	writeSecret("p")
	if !eventually.Within(time.Minute, func() bool { return stateOf(d.state().Images, ref).State == contract.Ready }) {
		t.Fatalf("the rotated secret was not used: %+v", stateOf(d.state().Images, ref))
	}
}
