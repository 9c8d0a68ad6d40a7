package imagesize

import (
	"context"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Lookahead resolves references, and fetches the entries hosts will ask
// for, in the background while the caller is still finding them (the audit
// lists pods for as long as its registry lookups take; run one after the
// other, the lookups added ~50% to a 2,000-node audit). At most the
// Resolver's Concurrency requests run at once; submitting never blocks.
// Everything it fetches lands in the Resolver's caches, so the caller's
// later Resolve, ResolveAll, For and Prefetch calls read them.
type Lookahead struct {
	r   *Resolver
	ctx context.Context
	sem chan struct{}
	wg  sync.WaitGroup

	mu   sync.Mutex
	refs map[string]*pendingRef
}

type pendingRef struct {
	done chan struct{}
	img  *Image
}

// Lookahead starts a background lookup queue on r; ctx bounds its requests.
func (r *Resolver) Lookahead(ctx context.Context) *Lookahead {
	return &Lookahead{r: r, ctx: ctx, sem: make(chan struct{}, r.limit()), refs: map[string]*pendingRef{}}
}

// Resolve queues ref's lookup, once however often it is asked.
func (l *Lookahead) Resolve(ref string) {
	l.pending(ref)
}

// Prefetch queues the manifest of ref's entry for host, after ref itself.
// The wait for ref holds no request slot, so prefetches queued behind an
// image being resolved cannot starve the lookups of other images.
func (l *Lookahead) Prefetch(ref string, host ocispec.Platform) {
	p := l.pending(ref)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		select {
		case <-p.done:
		case <-l.ctx.Done():
			return
		}
		if p.img.Err != nil || !l.acquire() {
			return
		}
		defer l.release()
		_, _, _ = l.r.For(l.ctx, p.img, host)
	}()
}

// Wait returns once every queued request is done.
func (l *Lookahead) Wait() {
	l.wg.Wait()
}

func (l *Lookahead) pending(ref string) *pendingRef {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.refs[ref]; ok {
		return p
	}
	p := &pendingRef{done: make(chan struct{})}
	l.refs[ref] = p
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(p.done)
		if !l.acquire() {
			p.img = &Image{Ref: ref, Err: l.ctx.Err()}
			return
		}
		defer l.release()
		p.img = l.r.Resolve(l.ctx, ref)
	}()
	return p
}

func (l *Lookahead) acquire() bool {
	if l.ctx.Err() != nil {
		return false
	}
	select {
	case l.sem <- struct{}{}:
		return true
	case <-l.ctx.Done():
		return false
	}
}

func (l *Lookahead) release() { <-l.sem }
