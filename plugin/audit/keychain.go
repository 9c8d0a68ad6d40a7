package audit

import (
	"context"
	"fmt"
	"sort"
	"strings"

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
// noted and skipped, so the lookup still runs with what is left.
type keychains struct {
	client  kubernetes.Interface
	secrets map[string]*corev1.Secret
	notes   []string
	byImage map[string]authn.Keychain
}

func newKeychains(ctx context.Context, client kubernetes.Interface, imageSecrets map[string]map[string]bool) (*keychains, error) {
	k := &keychains{client: client, secrets: map[string]*corev1.Secret{}, byImage: map[string]authn.Keychain{}}
	noSecrets, err := k8schain.NewNoClient(ctx)
	if err != nil {
		return nil, err
	}
	bySet := map[string]authn.Keychain{}
	for img, set := range imageSecrets {
		if len(set) == 0 {
			k.byImage[img] = noSecrets
			continue
		}
		names := make([]string, 0, len(set))
		for s := range set {
			names = append(names, s)
		}
		sort.Strings(names)
		key := strings.Join(names, ",")
		if kc, ok := bySet[key]; ok {
			k.byImage[img] = kc
			continue
		}
		var secrets []corev1.Secret
		for _, s := range names {
			if secret := k.get(ctx, s); secret != nil {
				secrets = append(secrets, *secret)
			}
		}
		kc, err := k8schain.NewFromPullSecrets(ctx, secrets)
		if err != nil {
			return nil, err
		}
		bySet[key] = kc
		k.byImage[img] = kc
	}
	return k, nil
}

// get reads namespace/name once; nil when it cannot be read.
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
	if kc, ok := k.byImage[ref]; ok {
		return kc
	}
	return authn.DefaultKeychain
}
