package imagelist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestParse(t *testing.T) {
	type want struct {
		ref     string
		pinned  bool
		invalid bool
	}
	cases := []struct {
		name  string
		doc   string
		want  []want
		error bool
	}{
		{"pins by default, pin: false kept, short names normalized as CRI does",
			"images:\n- ref: mcr.microsoft.com/windows/servercore:ltsc2022\n- {ref: r.example/app@sha256:" + strings.Repeat("a", 64) + ", pin: false}\n- ref: nginx\n",
			[]want{{"mcr.microsoft.com/windows/servercore:ltsc2022", true, false}, {"r.example/app@sha256:" + strings.Repeat("a", 64), false, false}, {"docker.io/library/nginx:latest", true, false}}, false},
		{"bad references kept and marked, repeats dropped",
			"images:\n- ref: a/UPPER:1\n- ref: a/b:1\n- ref: docker.io/a/b:1\n- ref: 'a/b:tag with space'\n",
			[]want{{"a/UPPER:1", true, true}, {"docker.io/a/b:1", true, false}, {"a/b:tag with space", true, true}}, false},
		{"unknown key", "images:\n- ref: a/b:1\n  colour: red\n", nil, true},
		{"images not a list", "images: a/b:1\n", nil, true},
		{"a bare list", "- a/b:1\n", nil, true},
	}
	for _, c := range cases {
		l, err := Parse([]byte(c.doc))
		if c.error {
			if err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got []want
		for _, img := range l.Images {
			got = append(got, want{img.Ref, img.Pinned(), img.Invalid != ""})
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestWatchSeesConfigMapStyleSwapsAndKeepsLastGoodList(t *testing.T) {
	wine.Skip(t, "Wine 8.0 makes a symlink that opening the link's path does not follow (File not found)")
	dir := wine.TempDir(t)
	path := filepath.Join(dir, "images.yaml")
	write := func(s string) {
		// ConfigMap volumes swap a symlink to a new folder.
		sub, _ := os.MkdirTemp(dir, "data-")
		os.WriteFile(filepath.Join(sub, "images.yaml"), []byte(s), 0o644)
		os.Remove(path)
		if err := os.Symlink(filepath.Join(sub, "images.yaml"), path); err != nil {
			t.Fatal(err)
		}
	}
	write("images:\n- ref: a/b:1\n")
	_, sum, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	changes := make(chan *List, 4)
	errs := make(chan error, 4)
	go Watch(ctx, path, 10*time.Millisecond, sum, func(l *List) { changes <- l }, func(err error) { errs <- err })
	write("images:\n- ref: a/b:1\n- ref: a/c:2\n")
	select {
	case l := <-changes:
		if len(l.Images) != 2 {
			t.Fatalf("new list = %+v", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("change not seen")
	}
	write("images:\n  ref: not-a-list\n")
	select {
	case <-errs:
	case l := <-changes:
		t.Fatalf("an invalid list was applied: %+v", l)
	case <-time.After(5 * time.Second):
		t.Fatal("invalid list not reported")
	}
}

func TestWatchWaitsOutAHalfWrittenList(t *testing.T) {
	// Windows: kubelet's swap is not atomic; one check can find no file,
	// an empty one or a prefix of the new one. None of them is the new
	// list, and none is a rejected one. The checks are made by hand so
	// what each one reads is certain.
	const old, next = "images:\n- ref: a/b:1\n", "images:\n- ref: a/b:1\n- ref: a/c:2\n- ref: a/d:3\n"
	torn := map[string]*string{
		"a prefix that is a valid, shorter list": ptr("images:\n- ref: a/b:1\n- ref: a/c:2\n"),
		"a prefix that does not parse":           ptr("images:\n- ref: a/b:1\n- {ref: a/"),
		"an empty file":                          ptr(""),
		"no file":                                nil,
	}
	for name, mid := range torn {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(wine.TempDir(t), "images.yaml")
			os.WriteFile(path, []byte(old), 0o644)
			_, sum, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var changes []*List
			var errs []error
			w := &watcher{path: path, applied: sum, onChange: func(l *List) { changes = append(changes, l) }, onError: func(err error) { errs = append(errs, err) }}
			w.check()
			if mid == nil {
				os.Remove(path)
			} else {
				os.WriteFile(path, []byte(*mid), 0o644)
			}
			w.check() // the one check that sees the torn state
			os.WriteFile(path, []byte(next), 0o644)
			w.check()
			w.check()
			w.check()
			if len(errs) != 0 {
				t.Errorf("a torn write was reported as a rejected list: %v", errs)
			}
			if len(changes) != 1 || len(changes[0].Images) != 3 {
				t.Errorf("changes = %s, want one, the three-image list", describe(changes))
			}
		})
	}
}

func TestWatchReportsABadListThatStays(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "images.yaml")
	os.WriteFile(path, []byte("images:\n- ref: a/b:1\n"), 0o644)
	_, sum, _ := Load(path)
	var errs []error
	w := &watcher{path: path, applied: sum, onChange: func(l *List) { t.Errorf("applied %+v", l) }, onError: func(err error) { errs = append(errs, err) }}
	os.WriteFile(path, []byte("images:\n  ref: not-a-list\n"), 0o644)
	for range 4 {
		w.check()
	}
	if len(errs) != 1 {
		t.Errorf("errors = %v, want one", errs)
	}
}

func ptr(s string) *string { return &s }

func describe(ls []*List) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "[%d images]", len(l.Images))
	}
	return b.String()
}
