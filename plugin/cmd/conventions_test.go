package cmd

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// The help text follows one set of rules across the tree, as kubectl's
// cmd_sanity checks its own (kubernetes v1.37.2
// staging/src/k8s.io/kubectl/pkg/cmd/util/sanity/cmd_sanity.go): every
// command says in a capitalised line without a final period what it does
// and shows an example that runs it, its lines indented two spaces
// (continuation lines after a backslash as they read best);
// every flag's help starts as kubectl's own flags do, capitalised.
func TestHelpTextFollowsTheConventions(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	commands := 0
	visit(root, func(c *cobra.Command) {
		commands++
		path := c.CommandPath()
		checkShort(t, path, c.Short)
		checkExample(t, path, c.Example)
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if r, _ := utf8.DecodeRuneInString(f.Usage); f.Usage == "" || unicode.IsLower(r) {
				t.Errorf("%s --%s: help %q must start with a capital letter", path, f.Name, f.Usage)
			}
		})
	})
	if commands < 7 {
		t.Fatalf("visited %d commands", commands)
	}
}

func visit(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		visit(sub, fn)
	}
}

func checkShort(t *testing.T, path, short string) {
	t.Helper()
	r, _ := utf8.DecodeRuneInString(short)
	switch {
	case short == "":
		t.Errorf("%s: no short description", path)
	case !unicode.IsUpper(r):
		t.Errorf("%s: short description %q must start with a capital letter", path, short)
	case strings.HasSuffix(short, "."):
		t.Errorf("%s: short description %q must not end with a period", path, short)
	}
}

func checkExample(t *testing.T, path, example string) {
	t.Helper()
	if strings.TrimSpace(example) == "" {
		t.Errorf("%s: no example", path)
		return
	}
	runs, continued := false, false
	for _, line := range strings.Split(example, "\n") {
		body := strings.TrimPrefix(line, "  ")
		switch {
		case line == "":
		case continued:
		case body == line || strings.HasPrefix(body, " "):
			t.Errorf("%s: example line %q is not indented by two spaces", path, line)
		case body == path || strings.HasPrefix(body, path+" "):
			runs = true
		}
		continued = strings.HasSuffix(line, "\\")
	}
	if !runs {
		t.Errorf("%s: the example never runs the command", path)
	}
}
