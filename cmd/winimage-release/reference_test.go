package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checked-in command reference is what the cobra tree renders now: a
// flag or command added without `make docs` fails here.
func TestCommandReferenceIsCurrent(t *testing.T) {
	stale, err := referenceDiff(filepath.Join("..", "..", referenceDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("%s is stale (run `make docs`): %s", referenceDir, strings.Join(stale, ", "))
	}
}

func TestReferenceDiffNamesChangedMissingAndLeftoverPages(t *testing.T) {
	dir := t.TempDir()
	if err := writeReference(dir); err != nil {
		t.Fatal(err)
	}
	if stale, _ := referenceDiff(dir); len(stale) != 0 {
		t.Fatalf("a fresh reference differs: %v", stale)
	}
	os.WriteFile(filepath.Join(dir, "kubectl_winimage_bake.md"), []byte("old"), 0o644)
	os.Remove(filepath.Join(dir, "kubectl_winimage_audit.md"))
	os.WriteFile(filepath.Join(dir, "kubectl_winimage_gone.md"), []byte("x"), 0o644)
	stale, _ := referenceDiff(dir)
	want := "kubectl_winimage_audit.md, kubectl_winimage_bake.md, kubectl_winimage_gone.md (no such command)"
	if got := strings.Join(stale, ", "); got != want {
		t.Fatalf("stale pages %q, want %q", got, want)
	}
}
