package fleet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// StartHistory is pods that started on a kwok group's nodes in the past,
// written as kubelet writes them: the PodScheduled condition, each
// container's startedAt, and Pulling/Pulled events on the pod with
// kubelet's messages. It gives the audit's startup section a history.
type StartHistory struct {
	NodeGroup string `json:"nodeGroup"`
	Namespace string `json:"namespace,omitempty"`
	Image     string `json:"image"`
	// Ago is how long before now the first pod was scheduled; the next
	// ones follow Every apart (default 1m).
	Ago    string  `json:"ago"`
	Every  string  `json:"every,omitempty"`
	Starts []Start `json:"starts"`
}

// Start is one pod's start. Pulling empty means kubelet found the image
// already present; NoEvents leaves the events out, as if they expired.
type Start struct {
	Pulling  string `json:"pulling,omitempty"`
	Rest     string `json:"rest"`
	NoEvents bool   `json:"noEvents,omitempty"`
}

// HistoryLabel marks the pods a StartHistory wrote.
const HistoryLabel = "fleet.winimage.io/history"

type plannedStart struct {
	name, node          string
	scheduled, started  time.Time
	pulling             time.Duration
	present, withEvents bool
}

// ApplyHistory writes h's pods and events; they must be on kwok nodes.
func ApplyHistory(ctx context.Context, client kubernetes.Interface, applied *Applied, index int, h StartHistory) error {
	nodes := applied.Nodes[h.NodeGroup]
	if len(nodes) == 0 {
		return fmt.Errorf("startup history: node group %s has no nodes", h.NodeGroup)
	}
	ago, err := time.ParseDuration(h.Ago)
	if err != nil {
		return fmt.Errorf("startup history ago: %w", err)
	}
	every, err := time.ParseDuration(orDefault(h.Every, "1m"))
	if err != nil {
		return fmt.Errorf("startup history every: %w", err)
	}
	ns := orDefault(h.Namespace, "default")
	if err := ensureNamespace(ctx, client, ns); err != nil {
		return err
	}
	base := time.Now().Add(-ago).Truncate(time.Second)
	var g errgroup.Group
	g.SetLimit(8)
	for i, s := range h.Starts {
		p := plannedStart{name: fmt.Sprintf("start-%d-%s-%d", index, h.NodeGroup, i), node: nodes[i%len(nodes)],
			scheduled: base.Add(time.Duration(i) * every), present: s.Pulling == "", withEvents: !s.NoEvents}
		if !p.present {
			if p.pulling, err = time.ParseDuration(s.Pulling); err != nil {
				return fmt.Errorf("startup history pulling: %w", err)
			}
		}
		rest, err := time.ParseDuration(s.Rest)
		if err != nil {
			return fmt.Errorf("startup history rest: %w", err)
		}
		p.started = p.scheduled.Add(p.pulling + rest)
		g.Go(func() error { return writeStart(ctx, client, ns, applied.Ref(h.Image), p) })
	}
	return g.Wait()
}

// writeStart creates the pod bound to its node, lets kwok make it Running
// (its pod-ready stage acts on Pending pods only), then writes the status
// kubelet would have written and the image events.
func writeStart(ctx context.Context, client kubernetes.Interface, ns, ref string, p plannedStart) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns, Labels: map[string]string{HistoryLabel: "true"}},
		Spec: corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{Name: "app", Image: ref}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
	}
	created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		created, err = client.CoreV1().Pods(ns).Get(ctx, p.name, metav1.GetOptions{})
		return err == nil && created.Status.Phase == corev1.PodRunning, err
	})
	if err != nil {
		return fmt.Errorf("pod %s never Running under kwok: %w", p.name, err)
	}
	sched, started := metav1.NewTime(p.scheduled), metav1.NewTime(p.started)
	created.Status.StartTime = &sched
	created.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: sched},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: sched},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: started},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: started},
	}
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", Image: ref, Ready: true, Started: ptrTrue(),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if !p.withEvents {
		return nil
	}
	return writeImageEvents(ctx, client, created, ref, p)
}

// writeImageEvents writes kubelet's events for the pod's image, with
// kubelet's messages (k8s.io/kubernetes v1.37.2
// pkg/kubelet/images/image_manager.go).
func writeImageEvents(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, ref string, p plannedStart) error {
	type ev struct {
		reason, message string
		at              time.Time
	}
	evs := []ev{{"Pulled", fmt.Sprintf("Container image %q already present on machine", ref), p.scheduled}}
	if !p.present {
		evs = []ev{
			{"Pulling", fmt.Sprintf("Pulling image %q", ref), p.scheduled},
			{"Pulled", pulledMessage(ref, p.pulling, 0), p.scheduled.Add(p.pulling)},
		}
	}
	for _, e := range evs {
		ref := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, FieldPath: "spec.containers{app}"}
		if err := createKubeletEvent(ctx, client, ref, p.node, e.reason, e.message, e.at); err != nil {
			return err
		}
	}
	return nil
}

// pulledMessage is kubelet's message for a pull (k8s.io/kubernetes v1.37.2
// pkg/kubelet/images/image_manager.go), with no time spent waiting.
func pulledMessage(ref string, took time.Duration, size int64) string {
	return fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting). Image size: %d bytes.", ref, took, took, size)
}

// createKubeletEvent writes an event as kubelet's recorder does: on the
// pod, from the node, counted once.
func createKubeletEvent(ctx context.Context, client kubernetes.Interface, pod corev1.ObjectReference, node, reason, message string, at time.Time) error {
	when := metav1.NewTime(at)
	name := strings.TrimRight(fmt.Sprintf("%s.%x", pod.Name, sha256.Sum256([]byte(node+reason+message)))[:63], ".")
	_, err := client.CoreV1().Events(pod.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pod.Namespace}, InvolvedObject: pod,
		Reason: reason, Type: corev1.EventTypeNormal, Message: message,
		Source:              corev1.EventSource{Component: "kubelet", Host: node},
		ReportingController: "kubelet", ReportingInstance: node,
		FirstTimestamp: when, LastTimestamp: when, Count: 1,
	}, metav1.CreateOptions{})
	return err
}

func ptrTrue() *bool { t := true; return &t }

// setReadyAfter moves a kwok node's Ready transition to creation + after,
// as a real node's boot would show (kwok stamps the creation time).
func setReadyAfter(ctx context.Context, client kubernetes.Interface, name string, after time.Duration) error {
	// kwok writes the node's status too: retry on its conflicts.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range node.Status.Conditions {
			if node.Status.Conditions[i].Type == corev1.NodeReady {
				node.Status.Conditions[i].LastTransitionTime = metav1.NewTime(node.CreationTimestamp.Add(after))
			}
		}
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}
