package terminal

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"
)

// tableCell prints s as the only cell of a table through cli-runtime's
// table printer, as `warm status` and `audit` print theirs.
func tableCell(t *testing.T, s string) string {
	t.Helper()
	table := &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{{Name: "REASON", Type: "string"}},
		Rows:              []metav1.TableRow{{Cells: []any{s}}},
	}
	var out bytes.Buffer
	if err := printers.NewTablePrinter(printers.PrintOptions{NoHeaders: true}).PrintObj(table, &out); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// On what the table printer handles (ESC and line breaks) Cell writes the
// same bytes as it does.
func TestCellWritesWhatTheTablePrinterWrites(t *testing.T) {
	for _, s := range []string{
		"plain reason",
		"\x1b[31mred\x1b[0m",
		"first line\nforged line: all warm",
		"progress\rall 3 nodes warm",
		"page\fbreak",
		"\x1b]0;title\x1b\\ and more",
		"",
	} {
		if got, want := Cell(s), tableCell(t, s); got != want {
			t.Errorf("Cell(%q) = %q, the table printer writes %q", s, got, want)
		}
	}
}

func TestCellAndLineEscapeEveryOtherControl(t *testing.T) {
	for _, tc := range []struct{ in, cell, line string }{
		{"bell\a", "bell^G", "bell^G"},
		{"back\bspace", "back^Hspace", "back^Hspace"},
		{"del\x7f", "del^?", "del^?"},
		{"csi\u009b31m", `csi\u009b31m`, `csi\u009b31m`},
		{"raw \x9b byte", `raw \x9b byte`, `raw \x9b byte`},
		{"tab\tkept, ünïcode kept", "tab\tkept, ünïcode kept", "tab\tkept, ünïcode kept"},
		{"a\nb\r\x1bc\fd", "a...", `a\nb\r^[c\fd`},
	} {
		if got := Cell(tc.in); got != tc.cell {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.cell)
		}
		if got := Line(tc.in); got != tc.line {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
		}
	}
}

// Whatever the input, the output holds no control byte but tab and no
// invalid UTF-8.
func FuzzEscapedTextHasNoControls(f *testing.F) {
	for _, s := range []string{"\x1b[2J", "a\nb", "\u009b", "\xff\xfe", "ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Cell(s), Line(s)} {
			if strings.ContainsFunc(out, isControl) || !utf8.ValidString(out) {
				t.Fatalf("%q escaped to %q", s, out)
			}
		}
	})
}

// The Writer lets through only the line breaks and tabs of the format it
// guards: a BEL the table printer passed, a carriage return, an ESC that
// reached a line written with Fprintf.
func TestWriterEscapesControlBytesButNewlineAndTab(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, s := range []string{"NAME\tREASON\n", "n1\tpull: ^[]0;t\a\x1b[2J\rx\x7f\n", "plain\n"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	want := "NAME\tREASON\nn1\tpull: ^[]0;t^G^[[2J\\rx^?\nplain\n"
	if out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
}

// C1 controls (a UTF-8 terminal may obey U+009B as CSI) and bytes that are
// not UTF-8 (an 8-bit terminal takes a lone 0x9b for CSI) are escaped too;
// other characters pass as they are.
func TestWriterEscapesC1AndBytesThatAreNotUTF8(t *testing.T) {
	var out bytes.Buffer
	in := "n1\tpull: \u009b2J \x9b2J \xff ok… 10µs\n"
	if n, err := NewWriter(&out).Write([]byte(in)); n != len(in) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if want := "n1\tpull: \\u009b2J \\x9b2J \\xff ok… 10µs\n"; out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
}
