package imagelist

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
	dir := t.TempDir()
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
	ctx, cancel := context.WithCancel(context.Background())
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
	// Windows: kubelet's swap is not atomic; one check can see a partial
	// file or none at all. That is not a rejected list.
	dir := t.TempDir()
	path := filepath.Join(dir, "images.yaml")
	os.WriteFile(path, []byte("images:\n- ref: a/b:1\n"), 0o644)
	_, sum, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	changes, errs := make(chan *List, 4), make(chan error, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Watch(ctx, path, 200*time.Millisecond, sum, func(l *List) { changes <- l }, func(err error) { errs <- err })
	time.Sleep(50 * time.Millisecond)
	os.WriteFile(path, []byte("images:\n- ref: a/b:1\n- {ref: a/"), 0o644) // a torn write
	time.Sleep(300 * time.Millisecond)                                     // one check sees it
	os.WriteFile(path, []byte("images:\n- ref: a/b:1\n- ref: a/c:2\n"), 0o644)
	select {
	case l := <-changes:
		if len(l.Images) != 2 {
			t.Fatalf("new list = %+v", l)
		}
	case err := <-errs:
		t.Fatalf("a torn write was reported as a rejected list: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("change not seen")
	}
	select {
	case err := <-errs:
		t.Fatalf("reported: %v", err)
	default:
	}
}
