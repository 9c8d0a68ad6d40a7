package audit

import (
	"context"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// registryAhead starts each image's registry lookup, and the fetch of its
// entry for each node platform that runs it, as the pod list finds them, so
// the lookups overlap the listing instead of following it. A lookup's
// credentials are the pull secrets of the pods seen so far; once every pod
// is listed, a lookup that failed is asked again if the image's secrets
// grew meanwhile. A lookup that succeeded stands: the registry's answer does
// not depend on which valid credentials asked.
type registryAhead struct {
	ctx      context.Context
	resolver *imagesize.Resolver
	queue    *imagesize.Lookahead
	// keys is nil when the resolver brings its own keychain.
	keys *keychains
	// err is the first keychain error, returned by finish.
	err error
	// hosts is only touched by the pod list's goroutine.
	hosts map[imageHost]bool
}

type imageHost struct{ image, platform string }

// startRegistry notes --no-registry (nil, nil), or readies the resolver's
// credentials and its background queue.
func startRegistry(ctx context.Context, o *Options, r *Report) (*registryAhead, error) {
	if o.Resolver == nil {
		r.Skipped = append(r.Skipped, "registry: --no-registry; image sizes and OS-build compatibility were not checked")
		return nil, nil
	}
	a := &registryAhead{ctx: ctx, resolver: o.Resolver, queue: o.Resolver.Lookahead(ctx), hosts: map[imageHost]bool{}}
	if o.Resolver.Keychain == nil {
		kc, err := newKeychains(ctx, o.Client)
		if err != nil {
			return nil, err
		}
		a.keys = kc
		o.Resolver.Keychain = kc.For
	}
	return a, nil
}

// image starts the lookup of an image first seen, with the pull secrets of
// its pods so far.
func (a *registryAhead) image(img string, secrets map[string]bool) {
	if a == nil {
		return
	}
	if a.keys != nil && a.err == nil {
		if _, err := a.keys.use(a.ctx, img, secrets); err != nil {
			a.err = err
		}
	}
	a.queue.Resolve(img)
}

// host starts the fetch of img's entry for n's platform, once per platform.
func (a *registryAhead) host(img string, n *inventory.Node) {
	if a == nil {
		return
	}
	key := imageHost{img, n.OS + "/" + n.Arch + "/" + n.OSVersion}
	if !a.hosts[key] {
		a.hosts[key] = true
		a.queue.Prefetch(img, hostOf(n))
	}
}

// finish waits for the lookups in flight, gives every image the secrets of
// all its pods, and forgets the failed lookups whose secrets grew so the
// report asks again; the secrets that could not be read become notes.
func (a *registryAhead) finish(imageSecrets map[string]map[string]bool, r *Report) error {
	if a == nil {
		return nil
	}
	a.queue.Wait()
	if a.err != nil {
		return a.err
	}
	if a.keys == nil {
		return nil
	}
	for img, set := range imageSecrets {
		changed, err := a.keys.use(a.ctx, img, set)
		if err != nil {
			return err
		}
		if changed {
			a.resolver.Forget(img)
		}
	}
	r.Skipped = append(r.Skipped, a.keys.sortedNotes()...)
	return nil
}
