package imagesize

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRetryAfterReadsSecondsAndDates(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{"Mon, 30 Nov 2026 12:00:20 GMT", 20 * time.Second, true},
		{"Mon, 30 Nov 2026 11:00:00 GMT", 0, true},
		{"", 0, false}, {"soon", 0, false}, {"-1", 0, false},
	} {
		if got, ok := retryAfter(tc.v, now); got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

// A registry that answers 429 with Retry-After: 2 to the first manifest
// request is asked again no sooner than two seconds later (go-
// containerregistry alone retries after about one), and the lookup
// succeeds.
func TestResolverWaitsWhatRetryAfterSays(t *testing.T) {
	var mu sync.Mutex
	var asked []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.Contains(req.URL.Path, "/manifests/") {
			w.WriteHeader(http.StatusOK)
			return
		}
		mu.Lock()
		asked = append(asked, time.Now())
		first := len(asked) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		_, _ = w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("0", 64) + `","size":2},"layers":[]}`))
	}))
	defer srv.Close()
	r := &Resolver{Timeout: 10 * time.Second}
	img := r.Resolve(t.Context(), strings.TrimPrefix(srv.URL, "http://")+"/apps/busy:1")
	mu.Lock()
	defer mu.Unlock()
	if img.Err != nil || len(asked) < 2 {
		t.Fatalf("lookup after a 429: %v, asked %d times", img.Err, len(asked))
	}
	if gap := asked[1].Sub(asked[0]); gap < 1900*time.Millisecond {
		t.Errorf("asked again after %s, the registry said 2s", gap)
	}
}
