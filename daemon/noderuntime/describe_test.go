package noderuntime

import (
	"errors"
	"strings"
	"testing"
)

func TestDescribeNamesWhatWasWrongAndKeepsContainerdsError(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{`failed commit on ref "layer-sha256:aa": unexpected commit digest sha256:bb, expected sha256:aa: failed precondition`, "a layer from the registry does not match its digest: "},
		{`failed commit on ref "manifest-sha256:aa": unexpected commit digest sha256:bb, expected sha256:aa: failed precondition`, "the manifest from the registry does not match its digest: "},
		{`failed commit on ref "layer-sha256:aa": unexpected commit size 10, expected 20: failed precondition`, "a layer from the registry was cut short: "},
		{`read tcp 127.0.0.1:1->127.0.0.1:2: unexpected EOF`, "content from the registry was cut short: "},
		{`404 Not Found`, ""},
	} {
		got := Describe(errors.New(tc.err))
		if !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, tc.err) {
			t.Errorf("Describe(%q) = %q, want %q before it", tc.err, got, tc.want)
		}
	}
}
