package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/winimage-io/kubectl-winimage/plugin/cmd"
)

// referenceDir is where the generated command reference is checked in,
// relative to the module root.
const referenceDir = "docs/reference"

// reference renders the command reference from the cobra tree, one
// Markdown page per command (as crane's cmd/crane/help does), keyed by
// file name. The pages carry no generation date, so the same tree always
// renders the same bytes and a stale copy shows as a diff.
func reference() (map[string][]byte, error) {
	root := cmd.NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	dir, err := os.MkdirTemp("", "winimage-reference-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	disableAutoGenTag(root)
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return nil, fmt.Errorf("generate the command reference: %w", err)
	}
	pages := map[string][]byte{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		pages[d.Name()] = data
		return err
	})
	return pages, err
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}

// writeReference replaces the Markdown pages in dir with the current
// reference; other files there are left alone.
func writeReference(dir string) error {
	pages, err := reference()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for name, data := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// referenceDiff names the pages in dir that differ from the current
// reference, are missing or are left over; empty when dir is current.
func referenceDiff(dir string) ([]string, error) {
	pages, err := reference()
	if err != nil {
		return nil, err
	}
	var stale []string
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			stale = append(stale, name)
		}
	}
	checkedIn, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range checkedIn {
		if _, ok := pages[filepath.Base(f)]; !ok {
			stale = append(stale, filepath.Base(f)+" (no such command)")
		}
	}
	sort.Strings(stale)
	return stale, nil
}
