package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/runtime"
)

// unpin removes this daemon's pins (for `warm remove --unpin`), optionally
// deleting the images it added that no container uses, and exits.
func unpin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("unpin", flag.ContinueOnError)
	var rf runtimeFlags
	rf.add(fs)
	remove := fs.Bool("remove-unused", false, "also delete images this daemon added that no container uses")
	if err := parse(fs, args); err != nil {
		return err
	}
	client, err := rf.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	rt := &runtime.Containerd{Client: client, Snapshotter: rf.snapshotter}
	unpinned, removed, err := rt.Unpin(ctx, *remove)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string][]string{"unpinned": unpinned, "removed": removed})
}
