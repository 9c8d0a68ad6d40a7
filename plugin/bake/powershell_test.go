package bake

import (
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/pwsh"
)

func TestPSQuoteDoublesEveryQuoteMark(t *testing.T) {
	cases := map[string]string{
		"plain":            "'plain'",
		"it's":             "'it''s'",
		"a\u2019b":         "'a\u2019\u2019b'",
		"$(Remove-Item x)": "'$(Remove-Item x)'",
		"`n; calc":         "'`n; calc'",
		"":                 "''",
	}
	for in, want := range cases {
		if got := psQuote(in); got != want {
			t.Errorf("psQuote(%q) = %q, want %q", in, got, want)
		}
		if back, rest, ok := pwsh.Unquote(psQuote(in)); !ok || back != in || rest != "" {
			t.Errorf("round trip of %q: %q %q %v", in, back, rest, ok)
		}
	}
}
