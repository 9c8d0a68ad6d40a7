package cmd

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"
)

// toPrinter is flags.ToPrinter with machine formats that survive every
// byte others wrote. Go's JSON encoder leaves DEL and the C1 controls
// (U+0080–U+009F, whose CSI some terminals obey) raw, and cli-runtime's
// YAML printer, which goes through JSON (k8s.io/cli-runtime v0.37.2
// pkg/printers/yaml.go: sigs.k8s.io/yaml Marshal, that is JSONToYAML of
// the JSON), then fails outright on them ("yaml: control characters are
// not allowed"): one such character in a pod's image name made -o yaml
// exit 1. Both are printed from JSON with those characters written as
// \u escapes, the same data; the YAML emitter then escapes them itself.
func toPrinter(flags *genericclioptions.PrintFlags) (printers.ResourcePrinter, error) {
	switch *flags.OutputFormat {
	case "json":
		return &escapedPrinter{}, nil
	case "yaml":
		return &escapedPrinter{yaml: true}, nil
	}
	return flags.ToPrinter()
}

// escapedPrinter prints JSON or YAML documents; YAML documents after the
// first are preceded by "---", as cli-runtime's YAML printer does (warm
// status -w prints one per change).
type escapedPrinter struct {
	yaml    bool
	printed bool
}

func (p *escapedPrinter) PrintObj(obj runtime.Object, w io.Writer) error {
	var buf bytes.Buffer
	if err := (&printers.JSONPrinter{}).PrintObj(obj, &buf); err != nil {
		return err
	}
	data := escapeJSONControls(buf.Bytes())
	if p.yaml {
		var err error
		if data, err = yaml.JSONToYAML(data); err != nil {
			return fmt.Errorf("print yaml: %w", err)
		}
		if p.printed {
			data = append([]byte("---\n"), data...)
		}
	}
	p.printed = true
	_, err := w.Write(data)
	return err
}

// escapeJSONControls writes DEL and C1 controls in JSON text as \u escapes.
// Outside strings JSON is ASCII without them, so only strings change, and
// they decode to the same text. Invalid UTF-8 cannot occur: the encoder
// wrote U+FFFD for it.
func escapeJSONControls(data []byte) []byte {
	if !bytes.ContainsFunc(data, isEscapedControl) {
		return data
	}
	out := make([]byte, 0, len(data)+16)
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if isEscapedControl(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, data[i:i+size]...)
		}
		i += size
	}
	return out
}

func isEscapedControl(r rune) bool { return r == 0x7f || (r >= 0x80 && r <= 0x9f) }
