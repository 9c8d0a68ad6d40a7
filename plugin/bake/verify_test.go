package bake

import (
	"regexp"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/pwsh"
)

// testPhaseOf is a component's test phase, which Image Builder runs on an
// instance launched from the new AMI.
func testPhaseOf(t *testing.T, c *Component) [][]string {
	t.Helper()
	for _, p := range decode(t, c).Phases {
		if p.Name == "test" {
			var steps [][]string
			for _, s := range p.Steps {
				steps = append(steps, s.Inputs.Commands)
			}
			return steps
		}
	}
	t.Fatalf("%s has no test phase: the new AMI itself is never checked", c.Name)
	return nil
}

// MatchPatterns are the -match patterns of a step, in order.
func matchPatterns(t *testing.T, cmds []string) []*regexp.Regexp {
	t.Helper()
	var out []*regexp.Regexp
	for _, line := range cmds {
		_, after, ok := strings.Cut(line, "-match ")
		if !ok {
			continue
		}
		p, _, ok := pwsh.Unquote(after)
		if !ok {
			t.Fatalf("-match without a quoted pattern: %s", line)
		}
		out = append(out, regexp.MustCompile(p))
	}
	return out
}

// Both components check the new AMI through containerd: start it when it
// is not running, then every image must be complete, unpacked for this
// instance's Windows build and pinned.
func TestTheTestPhaseChecksTheNewAMIThroughContainerd(t *testing.T) {
	bp := planWith("mcr.microsoft.com/windows/servercore:ltsc2022", "r.example/shop/web@"+digestB)
	baked, err := ComponentFor(bp, DefaultCtr, "test")
	if err != nil {
		t.Fatal(err)
	}
	src, err := ParseImageListURI("s3://lists/prod.txt")
	if err != nil {
		t.Fatal(err)
	}
	listed, err := ComponentFromList(bp, DefaultCtr, "test", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Component{baked, listed} {
		steps := testPhaseOf(t, c)
		if len(steps) != 2 || !strings.Contains(strings.Join(steps[0], "\n"), "Start-Service -Name 'containerd'") {
			t.Fatalf("%s: test phase %q", c.Name, steps)
		}
		check := strings.Join(steps[1], "\n")
		for _, want := range []string{psCommand(DefaultCtr, "-n", "k8s.io", "images", "check"), psCommand(DefaultCtr, "-n", "k8s.io", "images", "list"), "throw"} {
			if !strings.Contains(check, want) {
				t.Errorf("%s: the check lacks %q:\n%s", c.Name, want, check)
			}
		}
		if len(matchPatterns(t, steps[1])) != 2 {
			t.Errorf("%s: want a ready and a pinned pattern:\n%s", c.Name, check)
		}
	}
	want := strings.Join(testPhaseOf(t, baked)[1], "\n")
	for _, name := range []string{"'mcr.microsoft.com/windows/servercore:ltsc2022'", "'r.example/shop/web@" + digestB + "'"} {
		if !strings.Contains(want, name) {
			t.Errorf("the baked component's check lacks %s", name)
		}
	}
}

// The patterns read ctr's own tables (ctr images check and list as
// containerd v1.7.35, v2.1.9 and v2.4.2 print them: REF TYPE DIGEST
// STATUS SIZE UNPACKED, and REF TYPE DIGEST SIZE PLATFORMS LABELS).
func TestTheTestPhaseReadsCtrsTables(t *testing.T) {
	bp := planWith("r.example/shop/web:1")
	c, err := ComponentFor(bp, DefaultCtr, "test")
	if err != nil {
		t.Fatal(err)
	}
	patterns := matchPatterns(t, testPhaseOf(t, c)[1])
	ready, pinned := patterns[0], patterns[1]
	d := "sha256:" + strings.Repeat("ab", 32)
	index := "application/vnd.oci.image.index.v1+json"
	for line, want := range map[string]bool{
		"r.example/shop/web:1 " + index + " " + d + " complete (7/7) 1.2 GiB/1.2 GiB true":       true,
		"r.example/shop/web:1 " + index + " " + d + " complete (7/7) 1.2 GiB/1.2 GiB false":      false,
		"r.example/shop/web:1 " + index + " " + d + " incomplete (5/7) 800.0 MiB/1.2 GiB false":  false,
		"r.example/shop/web:1 " + index + " " + d + " unavailable (1/?) 1.2 KiB/? false":         false,
		"REF                  TYPE  DIGEST  STATUS         SIZE                UNPACKED":         false,
		"r.example/shop/true:1 " + index + " " + d + " incomplete (5/7) 800.0 MiB/1.2 GiB false": false,
	} {
		if got := ready.MatchString(line); got != want {
			t.Errorf("ready %v for %q", got, line)
		}
	}
	for line, want := range map[string]bool{
		"r.example/shop/web:1 " + index + " " + d + " 1.2 GiB windows/amd64 io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned ": true,
		"r.example/shop/web:1 " + index + " " + d + " 1.2 GiB windows/amd64 io.cri-containerd.pinned=pinned,x=y ":                             true,
		"r.example/shop/web:1 " + index + " " + d + " 1.2 GiB windows/amd64 io.cri-containerd.image=managed ":                                 false,
		"r.example/shop/web:1 " + index + " " + d + " 1.2 GiB windows/amd64 x=io.cri-containerd.pinned=pinned ":                               false,
		"r.example/io.cri-containerd.pinned=pinned:1 " + index + " " + d + " 1.2 GiB windows/amd64 - ":                                        false,
	} {
		if got := pinned.MatchString(line); got != want {
			t.Errorf("pinned %v for %q", got, line)
		}
	}
}
