// Package pwsh reads PowerShell the way PowerShell's tokenizer does, for
// the few shapes the plugin emits, so tests can check generated commands
// with a reader written independently of the writer.
package pwsh

import (
	"fmt"
	"strings"
)

// isQuote: PowerShell takes the typographic single quotes as quote marks
// too.
func isQuote(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
		return true
	}
	return false
}

// Unquote reads one single-quoted PowerShell string at the start of s,
// as PowerShell's tokenizer would: a doubled quote mark is one literal
// quote mark, any other quote mark ends the string.
func Unquote(s string) (value, rest string, ok bool) {
	rs := []rune(s)
	if len(rs) == 0 || !isQuote(rs[0]) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(rs); i++ {
		if isQuote(rs[i]) {
			if i+1 < len(rs) && isQuote(rs[i+1]) {
				b.WriteRune(rs[i])
				i++
				continue
			}
			return b.String(), string(rs[i+1:]), true
		}
		b.WriteRune(rs[i])
	}
	return "", "", false
}

// CallWords splits a native-command call line (& 'exe' 'arg' …) back into its words, and
// fails on anything else: a bare word, an operator, a second statement.
func CallWords(line string) ([]string, error) {
	rest, ok := strings.CutPrefix(line, "& ")
	if !ok {
		return nil, fmt.Errorf("not a call: %q", line)
	}
	var words []string
	for {
		w, r, ok := Unquote(rest)
		if !ok {
			return nil, fmt.Errorf("not a quoted word at %q", rest)
		}
		words = append(words, w)
		if r == "" {
			return words, nil
		}
		if rest, ok = strings.CutPrefix(r, " "); !ok {
			return nil, fmt.Errorf("text outside quotes: %q", r)
		}
	}
}
