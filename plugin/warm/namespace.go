package warm

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClaimNamespace refuses a namespace warm did not create. warm labels its
// namespace privileged for Pod Security Admission (HostProcess pods are)
// and remove deletes it with everything in it, so taking over a team's
// namespace would first lift its pod security and later delete its
// workloads. A namespace warm created carries the part-of label; one that
// does not exist yet is created by the apply that follows.
func ClaimNamespace(ctx context.Context, client kubernetes.Interface, namespace string) error {
	ns, err := client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read namespace %s: %w", namespace, err)
	}
	if ns.Labels[PartOfLabel] == PartOf {
		return nil
	}
	return fmt.Errorf("namespace %s exists and warm did not create it, so nothing was applied: warm needs a namespace of its own (it makes it privileged, and warm remove deletes it); name one that does not exist with -n", namespace)
}
