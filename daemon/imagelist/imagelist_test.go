package imagelist

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	l, err := Parse([]byte("images:\n- ref: mcr.microsoft.com/windows/servercore:ltsc2022\n- {ref: r.example/app@sha256:" + strings.Repeat("a", 64) + ", pin: false}\n- ref: nginx\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Images) != 3 || !l.Images[0].Pinned() || l.Images[1].Pinned() || l.Images[2].Ref != "docker.io/library/nginx:latest" {
		t.Fatalf("list = %+v", l)
	}
	l, err = Parse([]byte("images:\n- ref: a/UPPER:1\n- ref: a/b:1\n- ref: docker.io/a/b:1\n- ref: 'a/b:tag with space'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Images) != 3 || l.Images[0].Invalid == "" || l.Images[1].Invalid != "" || l.Images[2].Invalid == "" {
		t.Fatalf("bad references must be kept and marked, repeats dropped: %+v", l.Images)
	}
	for _, bad := range []string{"images:\n- ref: a/b:1\n  colour: red\n", "images: a/b:1\n", "- a/b:1\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse accepted %q", bad)
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
