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
	"slices"
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
	// With tests, so no test reaches into the plugin either.
	forEachImport(t, true, []string{"./daemon/..."}, func(pkg, imp string) {
		if strings.HasPrefix(imp, module+"/plugin/") || imp == module+"/plugin" {
			t.Errorf("%s imports %s: daemon/ must never import plugin/ (move what both need under daemon/contract/)", pkg, imp)
		}
	})
}

// forEachImport calls check with each package matched by patterns (and,
// withTests, their test variants) and each package it imports.
func forEachImport(t *testing.T, withTests bool, patterns []string, check func(pkg, imp string)) {
	t.Helper()
	args := []string{"-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}`}
	if withTests {
		args = []string{"-test", "-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}`}
	}
	lines := goListLines(t, append(args, patterns...)...)
	if len(lines) < 5 {
		t.Fatalf("go list %v found %d packages", patterns, len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			check(pkg, imp)
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

// The daemon tree has two parts: daemon/contract/... is what both binaries
// share (the progress and image-list contract, Windows build rules, image
// sizes, build stamps, the access and taint checks both make), and every
// other daemon/ package only the node agent runs.
const sharedPrefix = module + "/daemon/contract"

func isShared(pkg string) bool {
	return pkg == sharedPrefix || strings.HasPrefix(pkg, sharedPrefix+"/")
}

func TestPluginImportsOnlyTheSharedPartOfDaemon(t *testing.T) {
	forEachImport(t, true, []string{"./plugin/...", "./cmd/kubectl-winimage", "./krew/...", "./manifests/..."}, func(pkg, imp string) {
		if strings.HasPrefix(imp, module+"/daemon/") && !isShared(imp) {
			t.Errorf("%s imports %s: the plugin may use only daemon/contract/... (move what both need there)", pkg, imp)
		}
	})
}

func TestSharedPackagesImportNothingDaemonOnly(t *testing.T) {
	forEachImport(t, false, []string{"./daemon/contract/..."}, func(pkg, imp string) {
		if strings.HasPrefix(imp, module+"/") && !isShared(imp) {
			t.Errorf("%s imports %s: a shared package may import only other shared ones", pkg, imp)
		}
	})
}

func TestPluginPackagesStayIndependentOfEachOthersCommands(t *testing.T) {
	// audit, warm and bake are commands; one reaching into another links
	// its dependencies (warm's kustomize into audit) and couples them. The
	// data flows audit → bake: bake plans from the audit's report.
	commands := []string{"audit", "warm", "bake"}
	allowed := map[string]string{"bake": "audit"}
	for _, c := range commands {
		deps := goList(t, "-deps", "./plugin/"+c)
		for _, other := range commands {
			if other != c && allowed[c] != other && slices.Contains(deps, module+"/plugin/"+other) {
				t.Errorf("plugin/%s depends on plugin/%s: move what both need to a package of its own", c, other)
			}
		}
	}
}

// A package comment names the package it documents (one named `runtime`
// in package noderuntime misled readers).
func TestPackageCommentsNameTheirPackage(t *testing.T) {
	// go list names each package's files with build tags applied, which
	// go/parser's ParseDir does not.
	for _, line := range goListLines(t, "-f", `{{.Name}} {{.Dir}}{{range .GoFiles}} {{.}}{{end}}`, "./...") {
		fields := strings.Fields(line)
		name, dir := fields[0], fields[1]
		for _, file := range fields[2:] {
			path := filepath.Join(dir, file)
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc == nil {
				continue
			}
			text := f.Doc.Text()
			if strings.HasPrefix(text, "Package ") && !strings.HasPrefix(text, "Package "+name+" ") {
				t.Errorf("%s: package comment %q does not name package %s", path, strings.SplitN(text, "\n", 2)[0], name)
			}
		}
	}
}

// The plugin's unit tests stay unit tests: a helper that needs one cached
// file takes it from test/rigcache, not from the rig with its Kubernetes
// and containerd clients.
func TestPluginUnitTestsDoNotLinkTheRigOrContainerd(t *testing.T) {
	deps := goList(t, "-test", "-deps", "./plugin/...")
	for _, d := range deps {
		if d == module+"/test/rig" || strings.HasPrefix(d, "github.com/containerd/containerd/") {
			t.Errorf("the plugin's unit tests link %s", d)
		}
	}
}

// goformation's generated resource types are large; only the package that
// writes the CloudFormation template links them.
func TestOnlyTheTemplatePackageLinksGoformation(t *testing.T) {
	forEachImport(t, false, []string{"./..."}, func(pkg, imp string) {
		if pkg != module+"/plugin/bake/cloudformation" && strings.HasPrefix(imp, "github.com/awslabs/goformation/") {
			t.Errorf("%s imports %s: CloudFormation types belong in plugin/bake/cloudformation", pkg, imp)
		}
	})
}
