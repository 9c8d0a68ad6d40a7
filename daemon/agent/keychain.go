package agent

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/k8schain"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// secretKeychain answers from the mounted dockerconfigjson pull secrets
// (each secret a sub-folder with a .dockerconfigjson file), the default
// keychain and the cloud helpers (ECR through the node's instance role).
// kubelet rewrites a mounted Secret when it changes (a rotated registry
// token), so the files are read again at every pass (Reload) and the
// keychain is rebuilt when they changed.
type secretKeychain struct {
	dir string

	mu  sync.RWMutex
	sum [sha256.Size]byte
	kc  authn.Keychain
}

func newSecretKeychain(ctx context.Context, dir string) (*secretKeychain, error) {
	k := &secretKeychain{dir: dir}
	if _, err := k.Reload(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Resolve implements authn.Keychain with the secrets as last read.
func (k *secretKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	k.mu.RLock()
	kc := k.kc
	k.mu.RUnlock()
	return kc.Resolve(r)
}

// Reload reads the secrets again and reports whether they changed. On an
// error the keychain keeps what it had.
func (k *secretKeychain) Reload(ctx context.Context) (changed bool, err error) {
	secrets, sum, err := readPullSecrets(k.dir)
	if err != nil {
		return false, err
	}
	k.mu.RLock()
	same := k.kc != nil && sum == k.sum
	k.mu.RUnlock()
	if same {
		return false, nil
	}
	kc, err := k8schain.NewFromPullSecrets(ctx, secrets)
	if err != nil {
		return false, err
	}
	k.mu.Lock()
	k.kc, k.sum = kc, sum
	k.mu.Unlock()
	return true, nil
}

// readPullSecrets reads every dir/*/.dockerconfigjson, with a digest of
// their names and contents.
func readPullSecrets(dir string) ([]corev1.Secret, [sha256.Size]byte, error) {
	var secrets []corev1.Secret
	h := sha256.New()
	if dir != "" {
		matches, err := filepath.Glob(filepath.Join(dir, "*", corev1.DockerConfigJsonKey))
		if err != nil {
			return nil, [sha256.Size]byte{}, err
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				return nil, [sha256.Size]byte{}, err
			}
			name := filepath.Base(filepath.Dir(m))
			h.Write([]byte(name + "\x00"))
			h.Write(data)
			h.Write([]byte{0})
			secrets = append(secrets, corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Type:       corev1.SecretTypeDockerConfigJson,
				Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
			})
		}
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return secrets, sum, nil
}
