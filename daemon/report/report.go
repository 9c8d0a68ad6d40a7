// Package report makes the daemon's progress visible through the API: an
// annotation on its own pod (what `kubectl winimage warm status` reads), a
// state file for the readiness probe, and an Event on the node when warming
// completes or fails.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// Publisher publishes snapshots at most once per Interval.
type Publisher struct {
	Client             kubernetes.Interface
	Namespace, PodName string
	NodeName           string
	StateFile          string
	// Interval is the least time between two publishes (0: 2 s): a change
	// of state goes out within it.
	Interval time.Duration
	// ProgressInterval is the least time between two publishes that differ
	// only in byte counts and timestamps (0: 30 s): a pull's bytes move
	// every few hundred milliseconds, and a patch each Interval for the
	// whole pull is most of a node's API traffic.
	ProgressInterval time.Duration
	// RetryInterval is the first wait before publishing again a state the
	// API server did not take (doubling to 30 s; 0: 1 s).
	RetryInterval time.Duration
	Log           *slog.Logger
	// Warnings about the node, published with every snapshot; set before
	// Run, then added to with AddWarning.
	Warnings []string

	mu   sync.Mutex
	last []byte
	// lastFull is last as written, with its time.
	lastFull []byte
	// lastState is the last published document without byte counts and
	// timestamps; lastWrite when it was written.
	lastState []byte
	lastWrite time.Time
	// lastOutcome is what the last Event said (see outcomeOf).
	lastOutcome string
	// stateFileBehind: the last write of StateFile failed.
	stateFileBehind bool
}

// Run publishes snapshot() whenever changed fires, coalescing changes so
// the pod is patched at most once per Interval, until ctx ends (then once
// more, so the final state is out). A state the API server did not take
// (it restarted, or throttled) is published again after a backoff even if
// nothing changes, or the pod would show it stale for ever.
func (p *Publisher) Run(ctx context.Context, changed <-chan struct{}, snapshot func() contract.Snapshot) {
	interval := p.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	progressInterval := p.ProgressInterval
	if progressInterval <= 0 {
		progressInterval = DefaultProgressInterval
	}
	firstRetry := p.RetryInterval
	if firstRetry <= 0 {
		firstRetry = time.Second
	}
	retry := firstRetry
	var lastPublish time.Time
	var again <-chan time.Time // set while the last state is not out
	var due <-chan time.Time   // set while byte progress waits its turn
	beat := p.heartbeat(snapshot)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			p.publish(ctx, snapshot())
			return
		case <-beat.C:
			p.beat(snapshot)
			continue
		case <-changed:
		case <-again:
		case <-due:
			due = nil
		}
		if wait := interval - time.Since(lastPublish); wait > 0 {
			select {
			case <-ctx.Done():
				p.publish(ctx, snapshot())
				return
			case <-time.After(wait):
			}
		}
		s := snapshot()
		if wait := progressInterval - time.Since(p.lastWrite); p.bytesOnly(s) && !p.stateFileBehind && wait > 0 {
			if due == nil {
				due = time.After(wait)
			}
			continue
		}
		lastPublish = time.Now()
		if p.publish(ctx, s) {
			again, retry = nil, firstRetry
		} else {
			again, retry = time.After(retry), min(2*retry, 30*time.Second)
		}
	}
}

// DefaultProgressInterval is Publisher.ProgressInterval's default.
const DefaultProgressInterval = 30 * time.Second

// document is what is published for s.
func (p *Publisher) document(s contract.Snapshot) contract.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return contract.Progress{Node: p.NodeName, Pod: p.PodName, Warnings: slices.Clone(p.Warnings), Snapshot: s}.Fit()
}

// stateOf is doc without what moves during a pull: byte counts (but for
// whether any moved yet: a download that starts is news) and timestamps.
func stateOf(doc contract.Progress) []byte {
	doc.Updated = time.Time{}
	doc.Snapshot.Images = slices.Clone(doc.Snapshot.Images)
	for i := range doc.Snapshot.Images {
		img := &doc.Snapshot.Images[i]
		img.BytesDone, img.Updated = min(img.BytesDone, 1), time.Time{}
	}
	data, _ := json.Marshal(doc)
	return data
}

// bytesOnly reports whether s differs from what was last published only
// in byte counts and timestamps.
func (p *Publisher) bytesOnly(s contract.Snapshot) bool {
	return p.lastState != nil && string(stateOf(p.document(s))) == string(p.lastState)
}

// publish writes s and reports whether the pod has it. API writes get their
// own deadline rather than the run's context, so the last state still goes
// out while the daemon shuts down.
func (p *Publisher) publish(_ context.Context, s contract.Snapshot) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doc := p.document(s)
	body, err := json.Marshal(doc)
	if err != nil {
		return true // nothing a retry would mend
	}
	if string(body) == string(p.last) {
		// Only the state file may still lack it.
		return !p.stateFileBehind || p.writeStateFile(p.lastFull)
	}
	doc.Updated = time.Now().UTC()
	full, _ := json.Marshal(doc)
	fileWritten := p.writeStateFile(full)
	if p.Client != nil && p.PodName != "" {
		if err := annotatePod(ctx, p.Client, p.Namespace, p.PodName, contract.AnnotationProgress, string(full)); err != nil {
			p.Log.Error("publish progress on pod", "pod", p.Namespace+"/"+p.PodName, "err", err)
			return false
		}
	}
	p.last, p.lastFull, p.lastState, p.lastWrite = body, full, stateOf(doc), time.Now()
	if outcome := outcomeOf(s); outcome != "" && outcome != p.lastOutcome {
		p.nodeEvent(ctx, s)
		p.lastOutcome = outcome
	}
	return fileWritten
}

// writeStateFile writes full to StateFile and reports whether it is there.
// One that could not be replaced (a reader held it) is written again with
// the publisher's next retry, or the readiness probe would read the old
// state until something else changed.
func (p *Publisher) writeStateFile(full []byte) bool {
	if p.StateFile == "" {
		return true
	}
	if err := writeAtomic(p.StateFile, full); err != nil {
		p.Log.Error("write state file", "err", err)
		p.stateFileBehind = true
		return false
	}
	p.stateFileBehind = false
	return true
}

// outcomeOf is what a finished pass ended as, for Events: "" while one
// runs; "warm"; or the images not warm and their states. A recheck that
// ends as the last pass did says nothing new, so records no Event; a
// failure's reason (an attempt count, an error's wording) does not count.
func outcomeOf(s contract.Snapshot) string {
	if !s.Done {
		return ""
	}
	var cold []string
	for _, img := range s.Images {
		if img.State != contract.Ready {
			cold = append(cold, img.Ref+" "+string(img.State))
		}
	}
	if len(cold) == 0 && s.OmittedOther == 0 {
		return "warm"
	}
	return strings.Join(cold, "\n") + fmt.Sprintf("\n+%d", s.OmittedOther)
}

// AddWarning adds a warning about the node to what is published next.
func (p *Publisher) AddWarning(w string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Warnings = append(p.Warnings, w)
}

// nodeEvent records completion or failure on the Node, where operators
// look for node-level happenings.
func (p *Publisher) nodeEvent(ctx context.Context, s contract.Snapshot) {
	if p.Client == nil || p.NodeName == "" {
		return
	}
	eventType, reason := corev1.EventTypeNormal, "WarmComplete"
	var bytes int64
	var failed []string
	for _, img := range s.Images {
		bytes += img.BytesTotal
		if img.State != contract.Ready {
			failed = append(failed, fmt.Sprintf("%s %s: %s", img.Ref, img.State, img.Reason))
		}
	}
	msg := fmt.Sprintf("warmed %d images (%d MiB) into containerd", s.Ready, bytes>>20)
	if len(failed) > 0 {
		eventType, reason = corev1.EventTypeWarning, "WarmFailed"
		msg = fmt.Sprintf("%d of %d images not warm: %s", len(failed), s.Total, strings.Join(failed, "; "))
	}
	if err := NodeEvent(ctx, p.Client, p.NodeName, eventType, reason, msg); err != nil {
		p.Log.Error("node event", "err", err)
	}
}

// NodeEvent records an Event on the node, where operators look for
// node-level happenings.
func NodeEvent(ctx context.Context, client kubernetes.Interface, node, eventType, reason, msg string) error {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{GenerateName: node + ".", Namespace: metav1.NamespaceDefault},
		InvolvedObject:      corev1.ObjectReference{Kind: "Node", Name: node, UID: types.UID(node), APIVersion: "v1"},
		Reason:              reason,
		Message:             msg,
		Type:                eventType,
		Source:              corev1.EventSource{Component: "winimage-daemon", Host: node},
		ReportingController: "winimage.io/daemon",
		ReportingInstance:   node,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
	}
	_, err := client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, ev, metav1.CreateOptions{})
	return err
}

// ReadState reads a state file written by a Publisher.
func ReadState(path string) (contract.Progress, error) {
	var p contract.Progress
	data, err := readShared(path)
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(data, &p)
}

// readShared reads a file the daemon replaces by rename (openState: on
// Windows without standing in the rename's way).
func readShared(path string) ([]byte, error) {
	f, err := openState(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeAtomic replaces path with data by a rename, so a reader sees the old
// file or the new one, never half of one. On Windows a reader holding the
// file makes the rename fail; the probe holds it for one read, so the
// rename is tried again for about a second before giving up.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	tmp.Close()
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		err = os.Rename(tmp.Name(), path)
		if err == nil || !heldOpen(err) || wait > 500*time.Millisecond {
			break
		}
		time.Sleep(wait)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
