//go:build linux

package wine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Package is one Go package whose tests are run under Wine.
type Package struct {
	ImportPath, Dir string
}

// Packages lists the packages matching patterns that have tests when built
// for windows/amd64.
func Packages(ctx context.Context, patterns ...string) ([]Package, error) {
	args := append([]string{"list", "-f", "{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}\t{{.Dir}}{{end}}"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = windowsEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var pkgs []Package
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, dir, ok := strings.Cut(line, "\t"); ok {
			pkgs = append(pkgs, Package{ImportPath: path, Dir: dir})
		}
	}
	return pkgs, nil
}

// windowsEnv builds as `make cross` does, so the compiles are shared.
func windowsEnv() []string {
	return append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
}

// Result is one package's run.
type Result struct {
	Package
	Passed bool
	// Skipped are the tests that skipped themselves, with their reasons.
	Skipped []string
	Output  []byte
	Err     error
}

// Run builds each package's Windows test binary into bin and runs it under
// Wine (env from Prepare) in the package's folder with args, two at once.
func Run(ctx context.Context, env []string, bin string, pkgs []Package, args ...string) []Result {
	results := make([]Result, len(pkgs))
	exes := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range exes {
				results[i] = runOne(ctx, env, filepath.Join(bin, fmt.Sprintf("%02d.test.exe", i)), pkgs[i], args)
			}
		}()
	}
	// Built one at a time: go build parallelises a package's compiles.
	for i, p := range pkgs {
		exe := filepath.Join(bin, fmt.Sprintf("%02d.test.exe", i))
		build := exec.CommandContext(ctx, "go", "test", "-c", "-trimpath", "-o", exe, p.ImportPath)
		build.Env = windowsEnv()
		if out, err := build.CombinedOutput(); err != nil {
			results[i] = Result{Package: p, Output: out, Err: fmt.Errorf("build: %w", err)}
			continue
		}
		exes <- i
	}
	close(exes)
	wg.Wait()
	return results
}

func runOne(ctx context.Context, env []string, exe string, p Package, args []string) Result {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "wine", append([]string{exe, "-test.v"}, args...)...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.Dir, env, &out, &out
	err := cmd.Run()
	return Result{Package: p, Passed: err == nil, Skipped: skips(out.Bytes()), Output: out.Bytes(), Err: err}
}

var skipLine = regexp.MustCompile(`^\s*--- SKIP: (\S+)`)

// skips reads `go test -v` output: each skipped test with the last log
// line before its SKIP line, which is where t.Skip's reason streams.
func skips(out []byte) []string {
	var found []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	lastLog := ""
	for sc.Scan() {
		line := sc.Text()
		if m := skipLine.FindStringSubmatch(line); m != nil {
			found = append(found, m[1]+": "+lastLog)
			continue
		}
		if strings.HasPrefix(line, "    ") {
			lastLog = strings.TrimSpace(line)
		}
	}
	return found
}

// Report prints one line a package, each skip with its reason, and a
// failed package's whole output; it returns whether all passed.
func Report(w io.Writer, results []Result) bool {
	ok := true
	for _, r := range results {
		status := "ok  "
		if !r.Passed {
			status, ok = "FAIL", false
		}
		fmt.Fprintf(w, "%s %s (windows/amd64 under Wine)\n", status, r.ImportPath)
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "     skip %s\n", s)
		}
		if !r.Passed {
			fmt.Fprintf(w, "%s\n%v\n", r.Output, r.Err)
		}
	}
	return ok
}
