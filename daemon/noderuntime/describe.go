package noderuntime

import "strings"

// contentKinds are the prefixes containerd gives a blob's ingest ref by its
// media type (containerd v2.4.2 core/remotes/handlers.go MakeRefKey; the
// same in v1.7.35 remotes/handlers.go), which its commit errors quote:
// failed commit on ref "layer-sha256:…": unexpected commit digest ….
var contentKinds = []struct{ prefix, name string }{
	{`"manifest-`, "the manifest"}, {`"index-`, "the index"}, {`"layer-`, "a layer"}, {`"config-`, "the config"},
}

// Describe puts a failed pull in the words a person acts on, containerd's
// error after them: bytes that do not match their digest (containerd
// v2.4.2 plugins/content/local/writer.go Commit, "unexpected commit
// digest"), or a download cut short ("unexpected commit size", the
// metadata store's "failed size validation", an unexpected EOF).
func Describe(err error) string {
	msg := err.Error()
	what := "content"
	for _, k := range contentKinds {
		if strings.Contains(msg, "ref "+k.prefix) {
			what = k.name
			break
		}
	}
	switch {
	case strings.Contains(msg, "unexpected commit digest"):
		return what + " from the registry does not match its digest: " + msg
	case strings.Contains(msg, "unexpected commit size"), strings.Contains(msg, "failed size validation"),
		strings.Contains(msg, "unexpected EOF"), strings.Contains(msg, "short read"):
		return what + " from the registry was cut short: " + msg
	}
	return msg
}
