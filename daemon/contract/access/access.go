// Package access asks the API server, before the daemon acts, whether its
// identity holds each permission it will use, so a missing one is named at
// once instead of surfacing later as a progress that never appears or a
// taint that stays.
package access

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
)

// Need is one permission: a verb on a resource, in a namespace ("" for
// cluster-scoped resources) and on a name ("" for any).
type Need struct {
	Verb, Group, Resource, Namespace, Name string
	// Why says what the permission is for, in the error that names it.
	Why string
	// Optional needs only degrade what the daemon does; the others stop it.
	Optional bool
}

// String is the permission as RBAC spells it: "patch pods/p in ns".
func (n Need) String() string {
	s := n.Verb + " " + n.Resource
	if n.Group != "" {
		s += "." + n.Group
	}
	if n.Name != "" {
		s += "/" + n.Name
	}
	if n.Namespace != "" {
		s += " in " + n.Namespace
	}
	return s
}

// Missing returns the needs the caller lacks, asking the API server one
// SelfSubjectAccessReview each (every authenticated user may: the
// system:basic-user ClusterRole), so the answer is the authorizer's own.
func Missing(ctx context.Context, reviews authorizationclient.SelfSubjectAccessReviewsGetter, needs []Need) ([]Need, error) {
	var missing []Need
	for _, n := range needs {
		review, err := reviews.SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: n.Verb, Group: n.Group, Resource: n.Resource, Namespace: n.Namespace, Name: n.Name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("asking the API server whether this identity may %s: %w", n, err)
		}
		if !review.Status.Allowed {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// Describe names the needs on one line, each with what it is for.
func Describe(needs []Need) string {
	parts := make([]string, len(needs))
	for i, n := range needs {
		parts[i] = fmt.Sprintf("%s (%s)", n, n.Why)
	}
	return strings.Join(parts, "; ")
}

// Split separates the optional needs from the ones that stop the daemon.
func Split(needs []Need) (required, optional []Need) {
	for _, n := range needs {
		if n.Optional {
			optional = append(optional, n)
		} else {
			required = append(required, n)
		}
	}
	return required, optional
}
