//go:build linux

package rig

import (
	"context"
	"strings"
	"sync"

	eventstypes "github.com/containerd/containerd/api/events"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/typeurl/v2"
)

// CountUnpacks counts, from containerd's events until ctx ends, the
// snapshots prepared to unpack a layer (the unpacker's "extract-… chainID"
// keys), in all and per chain: total > chains means a layer was unpacked
// twice.
func (c *Containerd) CountUnpacks(ctx context.Context) (func() (total, chains int), error) {
	client, err := containerd.New(c.Address, containerd.WithDefaultNamespace("k8s.io"))
	if err != nil {
		return nil, err
	}
	envelopes, errs := client.EventService().Subscribe(ctx, `topic=="/snapshot/prepare"`)
	var mu sync.Mutex
	perChain := map[string]int{}
	go func() {
		defer client.Close()
		for {
			select {
			case e := <-envelopes:
				ev, err := typeurl.UnmarshalAny(e.Event)
				if err != nil {
					continue
				}
				if p, ok := ev.(*eventstypes.SnapshotPrepare); ok && strings.HasPrefix(p.Key, "extract-") {
					_, chain, _ := strings.Cut(p.Key, " ")
					mu.Lock()
					perChain[chain]++
					mu.Unlock()
				}
			case <-errs:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range perChain {
			n += c
		}
		return n, len(perChain)
	}, nil
}
