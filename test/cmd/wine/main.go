//go:build linux

// Command wine runs Go packages' windows/amd64 test binaries under Wine:
//
//	go run ./test/cmd/wine [-bin DIR] PATTERN... [-- TESTFLAGS]
//
// It installs Wine and MinGW when missing (as root), makes the prefix once
// (test/wine.Prepare), and fails when a package's tests fail. Tests that
// Wine cannot run skip themselves by name (wine.Skip); each skip is printed
// with its reason.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func main() {
	bin := flag.String("bin", "", "folder for the test binaries (default: a temporary one)")
	flag.Parse()
	patterns, testArgs := flag.Args(), []string(nil)
	for i, a := range patterns {
		if a == "--" {
			patterns, testArgs = patterns[:i], patterns[i+1:]
			break
		}
	}
	if len(patterns) == 0 {
		fmt.Fprintln(os.Stderr, "usage: wine [-bin DIR] PATTERN... [-- TESTFLAGS]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, patterns, testArgs); err != nil {
		fmt.Fprintln(os.Stderr, "wine:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, patterns, testArgs []string) error {
	env, err := wine.Prepare(ctx, os.Stderr)
	if err != nil {
		return err
	}
	if bin == "" {
		if bin, err = os.MkdirTemp("", "wine-tests-"); err != nil {
			return err
		}
		defer os.RemoveAll(bin)
	} else if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	pkgs, err := wine.Packages(ctx, patterns...)
	if err != nil {
		return err
	}
	if !wine.Report(os.Stdout, wine.Run(ctx, env, bin, pkgs, testArgs...)) {
		return fmt.Errorf("tests failed under Wine")
	}
	return nil
}
