//go:build linux

package e2e

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// containerdLineTests are the tests named in containerd_lines.txt.
func containerdLineTests(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("containerd_lines.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for s := bufio.NewScanner(f); s.Scan(); {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, line)
		}
	}
	return names
}

// The list the Makefile reruns on each containerd line names tests that
// exist, once each, in order: a renamed test fails here instead of
// silently dropping out of the line runs.
func TestContainerdLineListNamesTests(t *testing.T) {
	tests := map[string]bool{}
	files, _ := filepath.Glob("*_test.go")
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				tests[fn.Name.Name] = true
			}
		}
	}
	listed := containerdLineTests(t)
	if len(listed) < 10 {
		t.Fatalf("containerd_lines.txt names %d tests", len(listed))
	}
	for _, name := range listed {
		if !tests[name] {
			t.Errorf("containerd_lines.txt names %s, which is not a test of this package", name)
		}
	}
	if !slices.IsSorted(listed) || len(slices.Compact(slices.Clone(listed))) != len(listed) {
		t.Error("containerd_lines.txt must be sorted, each test once")
	}
}
