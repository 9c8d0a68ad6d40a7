package imagesize

import (
	"context"
	"fmt"
	"time"
)

// defaultLookupTimeout is Resolver.Timeout's default.
const defaultLookupTimeout = 30 * time.Second

func (r *Resolver) lookupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = defaultLookupTimeout
	}
	return context.WithTimeoutCause(ctx, timeout, fmt.Errorf("no answer from the registry within %s", timeout))
}

// describeIn is describe, naming a lookup's deadline when it ran out.
func describeIn(ctx context.Context, err error) error {
	if ctx.Err() != nil && context.Cause(ctx) != ctx.Err() {
		return context.Cause(ctx)
	}
	return describe(err)
}
