package imagelist

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func TestWantedIsTheNormalizedListOrNil(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{contract.ImageListKey: "images:\n- ref: nginx:1.27\n"}}
	if got, want := Wanted(cm), []string{"docker.io/library/nginx:1.27"}; !slices.Equal(got, want) {
		t.Errorf("Wanted = %v, want %v", got, want)
	}
	if got := Wanted(nil); got != nil {
		t.Errorf("no ConfigMap: %v", got)
	}
	cm.Data[contract.ImageListKey] = "images: [ref: :::]"
	if got := Wanted(cm); got != nil {
		t.Errorf("an unreadable list: %v", got)
	}
}

func TestChangedAtIsWarmsLatestApply(t *testing.T) {
	at := func(min int) *metav1.Time {
		v := metav1.NewTime(time.Date(2026, 12, 1, 10, min, 0, 0, time.UTC))
		return &v
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{
		{Manager: contract.FieldManager, Operation: metav1.ManagedFieldsOperationApply, Time: at(5)},
		{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(9)},
		{Manager: contract.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, Time: at(8)},
	}}}
	if got := ChangedAt(cm); !got.Equal(at(5).Time) {
		t.Errorf("ChangedAt = %v, want warm's apply at %v", got, at(5).Time)
	}
	if got := ChangedAt(&corev1.ConfigMap{}); !got.IsZero() {
		t.Errorf("never applied: %v", got)
	}
}
