package imagesize

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// retryAfterTransport honours a registry's Retry-After on 429 (too many
// requests) and 503 (unavailable) answers to reads: it waits what the
// registry asked, within the lookup's deadline, and asks again, up to
// maxRetryAfter times. go-containerregistry v0.22.1 retries those codes
// itself but on its own schedule (pkg/v1/remote/options.go
// defaultRetryBackoff: 1 s, ×3, 10% jitter), which a registry that said
// "after 20 s" answers with the same 429 again.
type retryAfterTransport struct {
	next http.RoundTripper
}

// maxRetryAfter bounds the waits per request; ggcr's own retries follow.
const maxRetryAfter = 3

// longestRetryAfter is the longest wait honoured; a registry asking for
// more is treated as down.
const longestRetryAfter = time.Minute

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for i := 0; ; i++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || i == maxRetryAfter || (req.Method != http.MethodGet && req.Method != http.MethodHead) || (req.Body != nil && req.Body != http.NoBody) {
			return resp, err
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
			return resp, nil
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok || wait > longestRetryAfter {
			return resp, nil
		}
		if deadline, has := req.Context().Deadline(); has && time.Until(deadline) < wait {
			return resp, nil
		}
		resp.Body.Close()
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
	}
}

// retryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// withRetryAfter is the transport option every lookup uses: Retry-After
// honoured, manifests bounded as containerd bounds them.
func withRetryAfter(inner http.RoundTripper) remote.Option {
	if inner == nil {
		inner = remote.DefaultTransport
	}
	return remote.WithTransport(manifestLimitTransport{next: retryAfterTransport{next: inner}})
}
