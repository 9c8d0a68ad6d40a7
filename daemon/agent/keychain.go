package agent

import (
	"context"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/k8schain"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pullSecretKeychain reads mounted dockerconfigjson secrets (each secret a
// sub-folder with a .dockerconfigjson file) and adds the default keychain
// and the cloud helpers (ECR through the node's instance role).
func pullSecretKeychain(ctx context.Context, dir string) (authn.Keychain, error) {
	var secrets []corev1.Secret
	if dir != "" {
		matches, err := filepath.Glob(filepath.Join(dir, "*", corev1.DockerConfigJsonKey))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			secrets = append(secrets, corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: filepath.Base(filepath.Dir(m))},
				Type:       corev1.SecretTypeDockerConfigJson,
				Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
			})
		}
	}
	return k8schain.NewFromPullSecrets(ctx, secrets)
}
