//go:build linux

package bench

import (
	"testing"
	"time"
)

// A sample counts for the stage of its leaf-most frame that names one:
// gzip read through the tar reader is decompression, a memmove under the
// content writer is download, a GC worker is the runtime.
func TestStageTimesCountEachSampleOnceByItsLeafMostStage(t *testing.T) {
	traces := `File: containerd
Type: cpu
Duration: 8.10s, Total samples = 190ms ( 2.35%)
-----------+-------------------------------------------------------
      50ms   compress/flate.(*decompressor).huffmanBlock
             compress/gzip.(*Reader).Read
             archive/tar.(*Reader).Read
             github.com/containerd/containerd/v2/pkg/archive.applyNaive
-----------+-------------------------------------------------------
      70ms   runtime.memmove
             io.copyBuffer
             github.com/containerd/containerd/v2/plugins/content/local.(*writer).Write
-----------+-------------------------------------------------------
      40ms   syscall.Syscall
             os.(*File).Write
             github.com/containerd/containerd/v2/pkg/archive.createTarFile
             github.com/containerd/containerd/v2/core/remotes/docker.(*fetcher).Fetch
-----------+-------------------------------------------------------
      20ms   runtime.scanobject
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      10ms   syscall.Syscall6
             main.main
-----------+-------------------------------------------------------
`
	got, total := stageTimes(traces)
	want := map[string]time.Duration{
		"decompress (gzip)":                  50 * time.Millisecond,
		"download (registry, content store)": 70 * time.Millisecond,
		"apply (tar to files)":               40 * time.Millisecond,
		"Go runtime (GC, scheduler)":         20 * time.Millisecond,
		"other":                              10 * time.Millisecond,
	}
	if total != 190*time.Millisecond {
		t.Errorf("total %s, want 190ms", total)
	}
	for stage, d := range want {
		if got[stage] != d {
			t.Errorf("%s: %s, want %s (all: %v)", stage, got[stage], d, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("stages %v, want %v", got, want)
	}
}
