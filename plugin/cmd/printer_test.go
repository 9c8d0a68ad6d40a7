package cmd

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"
)

// hostileBytes is every kind of byte a terminal might obey or a format
// might choke on: ESC, 7-bit and C1 CSI, OSC, BEL, CR, LF, DEL and
// invalid UTF-8.
const hostileBytes = "\x1b[2J\u009b2J\x1b]0;pwned\a\rforged\nline\x7f\xff\xfe"

// JSON and YAML carry hostile text as escapes: the output parses back to
// the same text (invalid UTF-8 as U+FFFD, as the JSON encoder writes it),
// and no control byte reaches the terminal raw. cli-runtime's own YAML
// printer fails on the same object.
func TestMachineFormatsSurviveEveryByte(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Report", "image": "r.example/app:1" + hostileBytes}}
	want := "r.example/app:1" + strings.TrimSuffix(hostileBytes, "\xff\xfe") + "\uFFFD\uFFFD"
	for _, format := range []string{"json", "yaml"} {
		flags := genericclioptions.NewPrintFlags("")
		flags.OutputFormat = &format
		p, err := toPrinter(flags)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		for range 2 {
			if err := p.PrintObj(obj, &out); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
		}
		if i := strings.IndexFunc(out.String(), func(r rune) bool { return (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) }); i >= 0 || !utf8.Valid(out.Bytes()) {
			t.Errorf("%s: raw control at %d:\n%q", format, i, out.String())
		}
		first := out.String()
		if format == "yaml" {
			docs := strings.Split(first, "---\n")
			if len(docs) != 2 {
				t.Fatalf("yaml: %d documents", len(docs))
			}
			first = docs[0]
		} else {
			first = first[:len(first)/2]
		}
		var back map[string]any
		if err := yaml.Unmarshal([]byte(first), &back); err != nil || back["image"] != want {
			t.Errorf("%s read back: %q, %v", format, back["image"], err)
		}
	}
	// The reason for toPrinter: cli-runtime's YAML printer refuses it.
	stock := genericclioptions.NewPrintFlags("")
	yamlFormat := "yaml"
	stock.OutputFormat = &yamlFormat
	p, _ := stock.ToPrinter()
	if err := p.PrintObj(obj, &bytes.Buffer{}); err == nil {
		t.Log("cli-runtime's YAML printer now takes control characters")
	}
}
