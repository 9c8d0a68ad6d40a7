// Package terminal escapes text that others wrote (image references from
// pod specs, the reasons and states a node's daemon publishes in its pod's
// annotations, registry error bodies) before it reaches a person's
// terminal, where an escape sequence could move the cursor, rewrite what
// was printed, retitle the window or ring the bell, and a line break could
// forge a line of output.
package terminal

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Cell returns s as cli-runtime's table printer shows a cell (k8s.io/
// cli-runtime v0.37.2 pkg/printers/tableprinter.go appendCellValue and
// terminal.go): cut at the first line break (\n, \r, \f) with "...", ESC as
// "^[". Every other control character, which that printer passes through,
// is escaped too: C0 controls and DEL in caret notation (BEL as "^G"), C1
// controls (U+0080–U+009F, whose CSI some terminals obey) and bytes that
// are not UTF-8 as \u/\x escapes. For a value printed inside a line:
// a progress line, a bar, a note.
func Cell(s string) string {
	if i := strings.IndexAny(s, "\n\r\f"); i >= 0 {
		return escape(s[:i], false) + "..."
	}
	return escape(s, false)
}

// Line returns s on one line, nothing cut: every control escaped as Cell
// does, and the line breaks as kubectl's terminal escaper writes a
// carriage return ("\r", k8s.io/cli-runtime v0.37.2 pkg/printers/
// terminal.go): "\n", "\r", "\f". For a message printed as a line of its
// own, such as an error, where the rest of the text matters.
func Line(s string) string { return escape(s, true) }

func escape(s string, breaks bool) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case breaks && r == '\n':
			b.WriteString(`\n`)
		case breaks && r == '\r':
			b.WriteString(`\r`)
		case breaks && r == '\f':
			b.WriteString(`\f`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + 0x40)
		case r == 0x7f:
			b.WriteString("^?")
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// safe is the fast path: printable ASCII and tabs only, or valid UTF-8
// without control characters.
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return !strings.ContainsFunc(s, isControl) && utf8.ValidString(s)
		}
	}
	return true
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\t') || (r >= 0x7f && r <= 0x9f)
}

// Writer passes human-readable output to w with every control but newline
// and tab escaped as Cell escapes it (a carriage return as "\r", as
// kubectl's terminal escaper writes it; C1 controls, U+0080–U+009F, as
// \u escapes; bytes that are not UTF-8 as \x escapes, since an 8-bit
// terminal takes a lone 0x9b for CSI): the last guard of a table or line
// format whose own line breaks are the only ones that may pass. Each Write
// is taken whole: a character split across two writes shows as \x
// escapes, never raw. Not for machine formats (JSON, YAML), which carry
// text exactly, nor for the progress bars, which draw with escape
// sequences.
type Writer struct{ w io.Writer }

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write escapes p; it reports len(p) written when all of it was.
func (t *Writer) Write(p []byte) (int, error) {
	if !slices.ContainsFunc(p, unsafeByte) {
		return t.w.Write(p)
	}
	out := make([]byte, 0, len(p)+8)
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = fmt.Appendf(out, `\x%02x`, p[i])
		case r == '\r':
			out = append(out, '\\', 'r')
		case r == 0x7f:
			out = append(out, '^', '?')
		case r < 0x20 && r != '\n' && r != '\t':
			out = append(out, '^', byte(r)+0x40)
		case r >= 0x80 && r <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, p[i:i+size]...)
		}
		i += size
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// unsafeByte is the fast path's test: ASCII controls but newline and tab,
// and every byte of a non-ASCII character (checked rune by rune).
func unsafeByte(c byte) bool { return (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f }
