package audit

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/k8schain"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// keychains builds, per image, the credentials kubelet would use for it: the
// pull secrets of the pods that run it, then the default keychain (docker
// config) and the cloud helpers (ECR through the node-role style credential
// chain). Each secret is read once; a secret that is missing or forbidden is
// noted and skipped, so the lookup still runs with what is left. An image's
// secrets are given while pods are still being listed (its lookup starts
// then) and again once they all are; For may be called meanwhile from the
// lookups in flight.
type keychains struct {
	client kubernetes.Interface

	mu      sync.Mutex
	secrets map[string]*corev1.Secret
	notes   []string
	bySet   map[string]authn.Keychain
	// setOf is the set (sorted names, comma-joined) each image's keychain
	// was built from.
	setOf map[string]string
}

func newKeychains(ctx context.Context, client kubernetes.Interface) (*keychains, error) {
	noSecrets, err := k8schain.NewNoClient(ctx)
	if err != nil {
		return nil, err
	}
	return &keychains{client: client, secrets: map[string]*corev1.Secret{},
		bySet: map[string]authn.Keychain{"": noSecrets}, setOf: map[string]string{}}, nil
}

// use makes set (namespace/name) img's pull secrets, reading those not read
// yet; it reports whether img's keychain changed from the one it had.
func (k *keychains) use(ctx context.Context, img string, set map[string]bool) (changed bool, err error) {
	names := make([]string, 0, len(set))
	for s := range set {
		names = append(names, s)
	}
	sort.Strings(names)
	key := strings.Join(names, ",")
	k.mu.Lock()
	defer k.mu.Unlock()
	old, had := k.setOf[img]
	if _, ok := k.bySet[key]; !ok {
		var secrets []corev1.Secret
		for _, s := range names {
			if secret := k.get(ctx, s); secret != nil {
				secrets = append(secrets, *secret)
			}
		}
		kc, err := k8schain.NewFromPullSecrets(ctx, secrets)
		if err != nil {
			return false, err
		}
		k.bySet[key] = kc
	}
	k.setOf[img] = key
	return had && old != key, nil
}

// get reads namespace/name once; nil when it cannot be read. k.mu is held.
func (k *keychains) get(ctx context.Context, nsName string) *corev1.Secret {
	if s, ok := k.secrets[nsName]; ok {
		return s
	}
	ns, name, _ := strings.Cut(nsName, "/")
	s, err := k.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsForbidden(err):
		k.notes = append(k.notes, fmt.Sprintf("pull secret %s: forbidden to you; images that need it may show 401", nsName))
		s = nil
	case apierrors.IsNotFound(err):
		k.notes = append(k.notes, fmt.Sprintf("pull secret %s: not found", nsName))
		s = nil
	case err != nil:
		k.notes = append(k.notes, fmt.Sprintf("pull secret %s: %v", nsName, err))
		s = nil
	}
	k.secrets[nsName] = s
	return s
}

// For is the keychain of one image reference.
func (k *keychains) For(ref string) authn.Keychain {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.setOf[ref]; ok {
		return k.bySet[key]
	}
	return authn.DefaultKeychain
}

// sortedNotes are the secrets that could not be read, in name order.
func (k *keychains) sortedNotes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Sorted(slices.Values(k.notes))
}
