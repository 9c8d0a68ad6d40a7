package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestProfileIsWrittenWhereAskedAndUnknownOnesAreRefused(t *testing.T) {
	for _, name := range []string{"cpu", "heap", "trace"} {
		out := filepath.Join(t.TempDir(), name+".out")
		root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
		root.SetArgs([]string{"version", "--client", "--profile", name, "--profile-output", out})
		if err := root.Execute(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		data, err := os.ReadFile(out)
		if err != nil || len(data) == 0 {
			t.Fatalf("%s: profile not written: %v", name, err)
		}
		if name == "trace" {
			continue
		}
		// pprof profiles are gzipped protocol buffers.
		if data[0] != 0x1f || data[1] != 0x8b {
			t.Errorf("%s: not a pprof profile: starts % x", name, data[:2])
		}
	}
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	root.SetArgs([]string{"version", "--client", "--profile", "bogus"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), `--profile "bogus"`) {
		t.Fatalf("bogus profile: %v", err)
	}
}
