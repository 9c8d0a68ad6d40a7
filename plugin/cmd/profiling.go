package cmd

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/spf13/pflag"
)

// profiling is kubectl's --profile and --profile-output (k8s.io/kubectl
// v0.37.2 pkg/cmd/profiling.go), for the profiles `make bench` takes of
// the plugin: cpu, trace, heap or any other runtime/pprof profile. Hidden:
// they are for measuring the plugin, not for using it.
type profiling struct {
	name, output string
	file         *os.File
}

func (p *profiling) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.name, "profile", "none", "Profile to capture: none, cpu, trace, heap, goroutine, threadcreate, block or mutex")
	fs.StringVar(&p.output, "profile-output", "profile.pprof", "File the profile is written to")
	_ = fs.MarkHidden("profile")
	_ = fs.MarkHidden("profile-output")
}

// start begins the profile; stop writes it.
func (p *profiling) start() error {
	var err error
	switch p.name {
	case "none":
		return nil
	case "cpu", "trace":
		if p.file, err = os.Create(p.output); err != nil {
			return fmt.Errorf("--profile-output: %w", err)
		}
		if p.name == "cpu" {
			err = pprof.StartCPUProfile(p.file)
		} else {
			// CPU samples in the trace too, at pprof's rate.
			runtime.SetCPUProfileRate(100)
			err = trace.Start(p.file)
		}
	case "block":
		runtime.SetBlockProfileRate(1)
	case "mutex":
		runtime.SetMutexProfileFraction(1)
	default:
		if pprof.Lookup(p.name) == nil {
			return fmt.Errorf("--profile %q: unknown profile", p.name)
		}
	}
	if err != nil {
		p.file.Close()
		p.file = nil
	}
	return err
}

func (p *profiling) stop() error {
	switch p.name {
	case "none":
		return nil
	case "cpu":
		pprof.StopCPUProfile()
		return p.file.Close()
	case "trace":
		trace.Stop()
		runtime.SetCPUProfileRate(0)
		return p.file.Close()
	case "heap":
		runtime.GC()
	}
	f, err := os.Create(p.output)
	if err != nil {
		return fmt.Errorf("--profile-output: %w", err)
	}
	defer f.Close()
	return pprof.Lookup(p.name).WriteTo(f, 0)
}
