// Package layout checks the design card's rules that the compiler does not:
// one direction between plugin/ and daemon/, a plugin binary without the
// containerd client, and files and functions small enough to read.
package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/winimage-io/kubectl-winimage"

// goList runs `go list` from the module root with args and returns its
// lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	return strings.Fields(strings.Join(goListLines(t, args...), " "))
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDaemonNeverImportsPlugin(t *testing.T) {
	// -test includes what the daemon's tests import, so no test reaches
	// into the plugin either. Each line: a package and what it imports.
	lines := goListLines(t, "-test", "-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}`, "./daemon/...")
	if len(lines) < 5 {
		t.Fatalf("go list found %d daemon packages", len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, module+"/plugin/") || imp == module+"/plugin" {
				t.Errorf("%s imports %s: daemon/ must never import plugin/ (move what both need under daemon/)", pkg, imp)
			}
		}
	}
}

func goListLines(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list %v: %v\n%s", args, err, stderr)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestPluginBinaryDoesNotLinkTheContainerdClient(t *testing.T) {
	deps := goList(t, "-deps", "./cmd/kubectl-winimage")
	if len(deps) < 10 {
		t.Fatalf("go list -deps found only %d packages", len(deps))
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/containerd/containerd/") {
			t.Errorf("the kubectl plugin links %s; only the daemon talks to containerd", d)
		}
	}
}

// Limits from the design card: split files before ~400 lines and
// functions before ~80.
const (
	maxFileLines = 400
	maxFuncLines = 80
)

func TestFilesAndFunctionsStaySmall(t *testing.T) {
	checked := 0
	for _, dir := range []string{"plugin", "daemon"} {
		err := filepath.WalkDir(filepath.Join(root(t), dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			checked++
			checkSize(t, path)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no Go files found under plugin/ and daemon/")
	}
}

func checkSize(t *testing.T, path string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(root(t), path)
	if n := strings.Count(string(src), "\n"); n > maxFileLines {
		t.Errorf("%s: %d lines (at most %d: split it by concept)", rel, n, maxFileLines)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		lines := fset.Position(fn.Body.Rbrace).Line - fset.Position(fn.Body.Lbrace).Line - 1
		if lines > maxFuncLines {
			t.Errorf("%s: func %s has %d lines (at most %d)", rel, fn.Name.Name, lines, maxFuncLines)
		}
	}
}
