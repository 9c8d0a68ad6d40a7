package startup

import (
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	"github.com/winimage-io/kubectl-winimage/plugin/pulltime"
)

// Node is one node's boot as its object records it.
type Node struct {
	Name, Group string
	Build       int
	AMI         string
	Created     time.Time
	// Ready is the Ready condition's last transition to True; zero while
	// the node is not Ready. A node that flapped reports its last
	// transition, so its boot reads longer than it was.
	Ready time.Time
}

// NodeReady is when n's Ready condition last became True (zero if not).
func NodeReady(n *corev1.Node) time.Time {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// Pod is one scheduled pod's start.
type Pod struct {
	UID, Name, Node string
	// Scheduled is the PodScheduled condition's transition to True.
	Scheduled time.Time
	// Started is when the last of its containers started; zero while one
	// has not, or when a container restarted (the first start is lost).
	Started   time.Time
	Restarted bool
	// Images are its containers' and init containers' images, normalized.
	Images []string
}

// Reader reads pods and events, naming each image once: a fleet has tens
// of thousands of pods but a few hundred images, and parsing a reference
// is most of the work per pod.
type Reader struct {
	names map[string]string
}

// NewReader returns a Reader with an empty name cache.
func NewReader() *Reader { return &Reader{names: map[string]string{}} }

func (r *Reader) normalize(ref string) string {
	n, ok := r.names[ref]
	if !ok {
		n = Normalize(ref)
		r.names[ref] = n
	}
	return n
}

// Pod reads a pod bound to a node; ok is false before it is scheduled.
func (r *Reader) Pod(p *corev1.Pod) (Pod, bool) {
	out := Pod{UID: string(p.UID), Name: p.Namespace + "/" + p.Name, Node: p.Spec.NodeName}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			out.Scheduled = c.LastTransitionTime.Time
		}
	}
	if out.Node == "" || out.Scheduled.IsZero() {
		return Pod{}, false
	}
	seen := map[string]bool{}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			if img := r.normalize(c.Image); !seen[img] {
				seen[img] = true
				out.Images = append(out.Images, img)
			}
		}
	}
	out.Started, out.Restarted = lastStart(p)
	return out, true
}

// lastStart is when the last regular container started. kubelet keeps only
// the current run's startedAt, so after a restart the first start is gone.
func lastStart(p *corev1.Pod) (time.Time, bool) {
	if len(p.Status.ContainerStatuses) < len(p.Spec.Containers) {
		return time.Time{}, false
	}
	var last time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if cs.RestartCount > 0 {
			return time.Time{}, true
		}
		var at time.Time
		switch {
		case cs.State.Running != nil:
			at = cs.State.Running.StartedAt.Time
		case cs.State.Terminated != nil:
			at = cs.State.Terminated.StartedAt.Time
		}
		if at.IsZero() {
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, false
}

// ImageEvent is one kubelet Pulled event: a pull, or an image found
// already present (a warm hit).
type ImageEvent struct {
	PodUID, Pod, Node, Image string
	// At is the event's first occurrence; Count how many times it occurred.
	At      time.Time
	Count   int
	Present bool
	// Took is the pull including the time queued behind other pulls
	// (0 for a present image).
	Took time.Duration
}

// Event reads a kubelet Pulled event about a pod (k8s.io/kubernetes
// v1.37.2 pkg/kubelet/images/image_manager.go writes both messages, with
// reason Pulled, on the pod).
func (r *Reader) Event(e *corev1.Event) (ImageEvent, bool) {
	if e.InvolvedObject.Kind != "Pod" {
		return ImageEvent{}, false
	}
	out := ImageEvent{PodUID: string(e.InvolvedObject.UID), Pod: e.InvolvedObject.Namespace + "/" + e.InvolvedObject.Name,
		Node: e.Source.Host, At: e.FirstTimestamp.Time, Count: pulltime.Occurrences(e.Count)}
	if out.At.IsZero() {
		out.At = e.EventTime.Time
	}
	if img, ok := pulltime.ParsePresent(e.Message); ok {
		out.Image, out.Present = r.normalize(img), true
		return out, true
	}
	p, ok := pulltime.Parse(e.Message)
	if !ok {
		return ImageEvent{}, false
	}
	out.Image, out.Took = r.normalize(p.Image), p.Waiting
	return out, true
}

// Normalize names an image as CRI and the warm list do
// (docker.io/library/x:latest for x).
func Normalize(ref string) string {
	if named, err := reference.ParseDockerRef(ref); err == nil {
		return named.String()
	}
	return ref
}
