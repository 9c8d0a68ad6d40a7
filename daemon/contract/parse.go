package contract

import (
	"encoding/json"
	"fmt"
)

// MaxAnnotationBytes is the API server's limit on all of an object's
// annotations together (k8s.io/apimachinery v0.37.2 pkg/api/validation/
// objectmeta.go TotalAnnotationSizeLimitB). No document a daemon publishes
// through the API can be larger, so a larger one is refused unread.
const MaxAnnotationBytes = 256 << 10

// ParseProgress reads the AnnotationProgress document a node's daemon
// wrote. The node is not trusted: the size is bounded, the JSON strict
// about its shape (json.Unmarshal allocates in proportion to its input).
func ParseProgress(raw string) (Progress, error) {
	var p Progress
	return p, parseAnnotation(AnnotationProgress, raw, &p)
}

// ParseUnpinResult reads the AnnotationUnpin document of a pod in unpin
// mode, as ParseProgress does.
func ParseUnpinResult(raw string) (UnpinResult, error) {
	var r UnpinResult
	return r, parseAnnotation(AnnotationUnpin, raw, &r)
}

func parseAnnotation(key, raw string, into any) error {
	if len(raw) > MaxAnnotationBytes {
		return fmt.Errorf("annotation %s: %d bytes, over the API server's %d for all annotations", key, len(raw), MaxAnnotationBytes)
	}
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		return fmt.Errorf("annotation %s: %w", key, err)
	}
	return nil
}
