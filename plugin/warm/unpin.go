package warm

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

const (
	// unpinFieldManager is not warm's, so a later warm's apply takes the
	// pods back to warming instead of sharing the fields.
	unpinFieldManager = "kubectl-winimage-unpin"
)

// UnpinMode switches the DaemonSet's pods to the daemon's unpin mode, in
// place: the DaemonSet controller replaces each node's warming pod (never
// two on one node, so nothing re-pins behind the unpin), and the change is
// one object, so an interrupted removal resumes where it was.
func UnpinMode(ds *appsv1.DaemonSet, removeUnused bool) error {
	tpl := &ds.Spec.Template
	if len(tpl.Spec.Containers) != 1 || len(tpl.Spec.Containers[0].Command) == 0 {
		return fmt.Errorf("DaemonSet %s: not the daemon's (one container with a command)", ds.Name)
	}
	c := &tpl.Spec.Containers[0]
	binary := c.Command[0]
	if base := strings.TrimSuffix(path.Base(strings.ReplaceAll(binary, `\`, "/")), ".exe"); base != DaemonName {
		return fmt.Errorf("DaemonSet %s runs %q, not %s", ds.Name, binary, DaemonName)
	}
	c.Command = []string{binary, contract.CommandUnpin, contract.Flag(contract.FlagUnpinReport), contract.Flag(contract.FlagUnpinHold)}
	if removeUnused {
		c.Command = append(c.Command, contract.Flag(contract.FlagUnpinRemoveUnused))
	}
	c.Args = nil
	c.ReadinessProbe = nil
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	tpl.Labels[contract.ModeLabel] = contract.ModeUnpin
	// Unpinning is cheap: every node at once.
	all := intstr.FromString("100%")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &all}}
	return nil
}

func inUnpinMode(ds *appsv1.DaemonSet) bool {
	cs := ds.Spec.Template.Spec.Containers
	return ds.Spec.Template.Labels[contract.ModeLabel] == contract.ModeUnpin && len(cs) == 1 && len(cs[0].Command) > 1 && cs[0].Command[1] == "unpin"
}

// UnpinProgress is the state of an unpin run.
type UnpinProgress struct {
	Desired int
	Done    map[string]contract.UnpinResult // by node
	Waiting []string                        // nodes whose unpin pod has not reported
}

// Unpin switches the daemon to unpin mode and waits until each node the
// DaemonSet covers has reported; with removeUnused the images the daemon
// added that no container uses are deleted too. seen is called once per
// node result.
func Unpin(ctx context.Context, client kubernetes.Interface, namespace string, removeUnused bool, timeout time.Duration, seen func(contract.UnpinResult)) (*UnpinProgress, error) {
	dsClient := client.AppsV1().DaemonSets(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ds, err := dsClient.Get(ctx, DaemonName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("--unpin: no DaemonSet %s in namespace %s to unpin with; nothing was deleted", DaemonName, namespace)
		}
		if err != nil {
			return err
		}
		if inUnpinMode(ds) {
			return nil
		}
		if err := UnpinMode(ds, removeUnused); err != nil {
			return err
		}
		_, err = dsClient.Update(ctx, ds, metav1.UpdateOptions{FieldManager: unpinFieldManager})
		return err
	})
	if err != nil {
		return nil, err
	}

	p := &UnpinProgress{Done: map[string]contract.UnpinResult{}}
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		ds, err := dsClient.Get(ctx, DaemonName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: DaemonPodSelector + "," + contract.ModeLabel + "=" + contract.ModeUnpin})
		if err != nil {
			return false, err
		}
		p.Desired = int(ds.Status.DesiredNumberScheduled)
		p.Waiting = p.Waiting[:0]
		byNode := map[string]*corev1.Pod{}
		for i := range pods.Items {
			if pod := &pods.Items[i]; pod.DeletionTimestamp == nil {
				byNode[pod.Spec.NodeName] = pod
			}
		}
		for nodeName, pod := range byNode {
			raw := pod.Annotations[contract.AnnotationUnpin]
			res, err := contract.ParseUnpinResult(raw)
			if raw == "" || err != nil || res.Error != "" {
				p.Waiting = append(p.Waiting, nodeName)
				continue
			}
			if _, ok := p.Done[nodeName]; !ok {
				p.Done[nodeName] = res
				if seen != nil {
					seen(res)
				}
			}
		}
		sort.Strings(p.Waiting)
		rolledOut := ds.Status.ObservedGeneration >= ds.Generation && ds.Status.UpdatedNumberScheduled == ds.Status.DesiredNumberScheduled
		return rolledOut && len(p.Waiting) == 0 && len(byNode) == p.Desired, nil
	})
	if err != nil {
		if wait.Interrupted(err) {
			waiting := strings.Join(p.Waiting, ", ")
			if waiting == "" {
				waiting = "pods not started yet"
			}
			return p, fmt.Errorf("unpin not reported by %d of %d nodes after %s (waiting: %s); the DaemonSet stays in unpin mode and nothing was deleted: run `warm remove --unpin` again, or `warm remove` to delete without unpinning",
				p.Desired-len(p.Done), p.Desired, timeout, waiting)
		}
		return p, err
	}
	return p, nil
}
