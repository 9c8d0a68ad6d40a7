package bake

import "strings"

// psQuote makes s one PowerShell single-quoted string: nothing inside is
// expanded, and a quote is doubled. PowerShell also takes the typographic
// single quotes (U+2018, U+2019, U+201A, U+201B) as quote marks, so they are
// doubled too.
func psQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		if isPSQuote(r) {
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func isPSQuote(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
		return true
	}
	return false
}

// psCommand is one native-command call line: & 'exe' 'arg' 'arg' …, every
// word quoted, so no argument can become code.
func psCommand(exe string, args ...string) string {
	var b strings.Builder
	b.WriteString("& ")
	b.WriteString(psQuote(exe))
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(psQuote(a))
	}
	return b.String()
}
