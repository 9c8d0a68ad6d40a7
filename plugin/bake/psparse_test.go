package bake

import (
	"fmt"
	"strings"
)

// psUnquote reads one single-quoted PowerShell string at the start of s,
// as PowerShell's tokenizer would: a doubled quote mark is one literal
// quote mark, any other quote mark ends the string.
func psUnquote(s string) (value, rest string, ok bool) {
	rs := []rune(s)
	if len(rs) == 0 || !isPSQuote(rs[0]) {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(rs); i++ {
		if isPSQuote(rs[i]) {
			if i+1 < len(rs) && isPSQuote(rs[i+1]) {
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

// psCallWords splits a line made by psCommand back into its words, and
// fails on anything else: a bare word, an operator, a second statement.
func psCallWords(line string) ([]string, error) {
	rest, ok := strings.CutPrefix(line, "& ")
	if !ok {
		return nil, fmt.Errorf("not a call: %q", line)
	}
	var words []string
	for {
		w, r, ok := psUnquote(rest)
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
