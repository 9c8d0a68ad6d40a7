package imagelist

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// Wanted is the normalized image list in warm's ConfigMap, or nil when
// there is none to compare the daemons' reports with.
func Wanted(cm *corev1.ConfigMap) []string {
	if cm == nil {
		return nil
	}
	l, err := Parse([]byte(cm.Data[contract.ImageListKey]))
	if err != nil {
		return nil
	}
	refs := make([]string, 0, len(l.Images))
	for _, img := range l.Images {
		refs = append(refs, img.Ref)
	}
	return refs
}

// ChangedAt is when warm last changed the image list: the time of its
// field manager's Apply entry on the ConfigMap. The API server moves that
// time only when an apply changes the object, so re-applying the same list
// keeps it (k8s.io/apimachinery v0.37.2 pkg/util/managedfields/internal:
// managedFieldsUpdater.Apply stamps the time only when structuredMerge
// returns a changed object). Zero when warm never applied it.
func ChangedAt(cm *corev1.ConfigMap) time.Time {
	var at time.Time
	for _, e := range cm.ManagedFields {
		if e.Manager == contract.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Time != nil && e.Time.After(at) {
			at = e.Time.Time
		}
	}
	return at
}
