//go:build linux

package rig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Registry is the rig's in-process OCI registry (go-containerregistry's
// pkg/registry) on a loopback port. It can be stopped and started again on
// the same address with its content kept, to play a registry outage, and it
// counts the requests it serves so tests can assert how much was fetched.
type Registry struct {
	handler http.Handler
	addr    string

	mu     sync.Mutex
	server *http.Server
	// tls serves the same content over HTTPS with a certificate of a private
	// CA (see ServeTLS); tlsAddr is its host:port.
	tls     *http.Server
	tlsAddr string

	// user and password, when set, are required for GETs (the /v2/ ping,
	// manifests, blobs); pushes and HEADs stay open so fixtures can be written.
	user, password string

	// throttle caps blob bytes per second per request (0: no cap).
	throttle atomic.Int64
	// refuseRanges answers every ranged blob GET 416, as some proxies do.
	refuseRanges atomic.Bool
	// latency is added to every GET before it is answered (nanoseconds).
	latency atomic.Int64

	blobsInFlight, maxBlobsInFlight atomic.Int64

	manifestGets  atomic.Int64
	manifestHeads atomic.Int64
	blobGets      atomic.Int64
	blobBytes     atomic.Int64

	// faults maps a request path to the Fault its GETs get.
	faults sync.Map
}

// RegistryOption configures NewRegistry.
type RegistryOption func(*Registry)

// WithBasicAuth makes the registry demand these credentials for reads, as a
// private registry (ECR, say) does.
func WithBasicAuth(user, password string) RegistryOption {
	return func(r *Registry) { r.user, r.password = user, password }
}

// NewRegistry starts a registry on a free loopback port.
func NewRegistry(opts ...RegistryOption) (*Registry, error) {
	r := &Registry{handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	for _, o := range opts {
		o(r)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.addr = l.Addr().String()
	r.serve(l)
	return r, nil
}

// Host is host:port, the registry part of image references.
func (r *Registry) Host() string { return r.addr }

// Start serves again on the same address after Stop.
func (r *Registry) Start() error {
	var l net.Listener
	var err error
	// The port was just released by Stop; the kernel may need a moment.
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	r.serve(l)
	return nil
}

// Stop closes the listener and every open connection, as a registry that
// went away mid-transfer.
func (r *Registry) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.server != nil {
		_ = r.server.Close()
		r.server = nil
	}
}

// ServeTLS serves the same content over HTTPS on a port of ip too, with
// the given certificate (one of a CA no system trusts): a private registry,
// or a pull-through cache behind a corporate CA. It returns that front's
// host:port. Serving once is the registry's limit.
func (r *Registry) ServeTLS(ip net.IP, certFile, keyFile string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tls != nil {
		return "", errors.New("the registry serves TLS already")
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.count), ReadHeaderTimeout: 10 * time.Second}
	r.tls, r.tlsAddr = srv, l.Addr().String()
	go func() {
		if err := srv.ServeTLS(l, certFile, keyFile); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("rig registry (TLS): %v", err)
		}
	}()
	return r.tlsAddr, nil
}

// Counts reports the manifest and blob GETs served and the blob bytes sent.
func (r *Registry) Counts() (manifestGets, blobGets, blobBytes int64) {
	return r.manifestGets.Load(), r.blobGets.Load(), r.blobBytes.Load()
}

// ManifestHeads reports the manifest HEADs served (a tag's digest asked
// without its manifest).
func (r *Registry) ManifestHeads() int64 { return r.manifestHeads.Load() }

// Throttle caps each blob response at bytesPerSecond (0 lifts the cap), so
// a pull lasts long enough to be interrupted.
func (r *Registry) Throttle(bytesPerSecond int64) { r.throttle.Store(bytesPerSecond) }

// Latency delays every GET by d before it is answered, as a registry a
// region away (or behind a pull-through cache) does; 0 lifts it.
func (r *Registry) Latency(d time.Duration) { r.latency.Store(int64(d)) }

// MaxBlobsInFlight is the most blob GETs served at once since the last
// ResetCounts: how many connections a client used.
func (r *Registry) MaxBlobsInFlight() int64 { return r.maxBlobsInFlight.Load() }

// RefuseRanges makes the registry answer ranged blob GETs with 416 Range
// Not Satisfiable, as some proxies and caches in front of registries do.
func (r *Registry) RefuseRanges(refuse bool) { r.refuseRanges.Store(refuse) }

// ResetCounts zeroes the request counters.
func (r *Registry) ResetCounts() {
	r.manifestGets.Store(0)
	r.manifestHeads.Store(0)
	r.blobGets.Store(0)
	r.blobBytes.Store(0)
	r.maxBlobsInFlight.Store(0)
}

func (r *Registry) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.count), ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.server = srv
	r.mu.Unlock()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("rig registry: %v", err)
		}
	}()
}

func (r *Registry) count(w http.ResponseWriter, req *http.Request) {
	if r.user != "" && req.Method == http.MethodGet {
		if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="rig"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
	}
	if req.Method == http.MethodHead && containsSegment(req.URL.Path, "manifests") {
		r.manifestHeads.Add(1)
	}
	if req.Method == http.MethodGet {
		if d := time.Duration(r.latency.Load()); d > 0 {
			time.Sleep(d)
		}
		r.closeOpenRange(req)
		if f, ok := r.faults.Load(req.URL.Path); ok {
			r.serveFault(w, req, f.(Fault))
			return
		}
		switch {
		case containsSegment(req.URL.Path, "manifests"):
			r.manifestGets.Add(1)
		case containsSegment(req.URL.Path, "blobs"):
			r.blobGets.Add(1)
			if r.refuseRanges.Load() && req.Header.Get("Range") != "" {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w = &countingWriter{ResponseWriter: w, n: &r.blobBytes, rate: r.throttle.Load()}
			defer r.blobsInFlight.Add(-1)
			for n := r.blobsInFlight.Add(1); ; {
				if m := r.maxBlobsInFlight.Load(); n <= m || r.maxBlobsInFlight.CompareAndSwap(m, n) {
					break
				}
			}
		}
	}
	r.handler.ServeHTTP(w, req)
}

// closeOpenRange turns an open-ended Range ("bytes=N-", what containerd
// sends to resume a blob) into "bytes=N-END", the only form
// go-containerregistry's registry parses; real registries (ECR, S3 behind
// it) take both (RFC 9110).
func (r *Registry) closeOpenRange(req *http.Request) {
	rng := req.Header.Get("Range")
	if !strings.HasPrefix(rng, "bytes=") || !strings.HasSuffix(rng, "-") {
		return
	}
	head := httptest.NewRecorder()
	r.handler.ServeHTTP(head, httptest.NewRequest(http.MethodHead, req.URL.String(), nil))
	size, err := strconv.ParseInt(head.Header().Get("Content-Length"), 10, 64)
	if err != nil || head.Code != http.StatusOK {
		return
	}
	req.Header.Set("Range", fmt.Sprintf("%s%d", rng, size-1))
}

func containsSegment(path, seg string) bool {
	for i := 0; i+len(seg)+2 <= len(path); i++ {
		if path[i] == '/' && path[i+1:i+1+len(seg)] == seg && path[i+1+len(seg)] == '/' {
			return true
		}
	}
	return false
}

type countingWriter struct {
	http.ResponseWriter
	n    *atomic.Int64
	rate int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.rate <= 0 {
		n, err := c.ResponseWriter.Write(p)
		c.n.Add(int64(n))
		return n, err
	}
	// Send in slices of a tenth of a second's worth, flushing each.
	chunk := max(int(c.rate/10), 1)
	written := 0
	for written < len(p) {
		end := min(written+chunk, len(p))
		n, err := c.ResponseWriter.Write(p[written:end])
		written += n
		c.n.Add(int64(n))
		if err != nil {
			return written, err
		}
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		time.Sleep(time.Duration(int64(n) * int64(time.Second) / c.rate))
	}
	return written, nil
}

// shutdown is Stop with a deadline for in-flight requests, for teardown.
func (r *Registry) shutdown(ctx context.Context) {
	r.mu.Lock()
	servers := []*http.Server{r.server, r.tls}
	r.server, r.tls = nil, nil
	r.mu.Unlock()
	for _, srv := range servers {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
		}
	}
}
