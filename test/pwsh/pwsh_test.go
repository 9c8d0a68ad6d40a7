package pwsh

import "testing"

func TestCallWords(t *testing.T) {
	words, err := CallWords(`& 'C:\Program Files\ctr.exe' 'it''s' 'a` + "\u2019\u2019" + `b' ''`)
	if err != nil || len(words) != 4 || words[1] != "it's" || words[2] != "a\u2019b" || words[3] != "" {
		t.Errorf("%q %v", words, err)
	}
	for _, bad := range []string{`'x'`, `& 'x' y`, `& 'x'; calc`, `& 'x`, `& 'x'  'y'`} {
		if _, err := CallWords(bad); err == nil {
			t.Errorf("%q read as a call", bad)
		}
	}
}
