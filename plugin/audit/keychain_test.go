package audit

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestKeychainsReadEachSecretOnceAndNoteFailures(t *testing.T) {
	client := fake.NewSimpleClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "ok"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"r.example":{"auth":"dTpw"}}}`)},
	})
	gets := 0
	client.PrependReactor("get", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		gets++
		if action.(k8stesting.GetAction).GetName() == "locked" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "locked", nil)
		}
		return false, nil, nil
	})
	ctx := t.Context()
	k, err := newKeychains(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	// Early sets while pods are listed, then the final ones.
	for _, use := range []struct {
		img         string
		set         map[string]bool
		wantChanged bool
	}{
		{"r.example/x:1", map[string]bool{"a/ok": true}, false},
		{"r.example/y:1", map[string]bool{"a/ok": true}, false},
		{"r.example/z:1", map[string]bool{}, false},
		{"r.example/x:1", map[string]bool{"a/ok": true, "a/locked": true, "a/missing": true}, true},
		{"r.example/y:1", map[string]bool{"a/ok": true}, false},
		{"r.example/z:1", map[string]bool{}, false},
	} {
		changed, err := k.use(ctx, use.img, use.set)
		if err != nil || changed != use.wantChanged {
			t.Errorf("use(%s, %v) = %v, %v; want changed %v", use.img, use.set, changed, err, use.wantChanged)
		}
	}
	if gets != 3 {
		t.Errorf("%d secret reads, want 3 (each once)", gets)
	}
	notes := strings.Join(k.sortedNotes(), "\n")
	if !strings.Contains(notes, "a/locked: forbidden") || !strings.Contains(notes, "a/missing: not found") {
		t.Errorf("notes = %q", notes)
	}
	// The secret's credentials are used for its registry.
	auth, err := k.For("r.example/y:1").Resolve(name.MustParseReference("r.example/y:1").Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := auth.Authorization()
	if cfg.Username != "u" || cfg.Password != "p" {
		t.Errorf("credentials for y = %+v", cfg)
	}
}
