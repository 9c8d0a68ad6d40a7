package krew

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

func TestArchivesAreDeterministicAndHoldTheFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		bin, lic := filepath.Join(dir, "kubectl-winimage"), filepath.Join(dir, "LICENSE")
		os.WriteFile(bin, []byte("binary"), 0o755)
		os.WriteFile(lic, []byte("license"), 0o644)
		files := []File{{Name: "kubectl-winimage", Path: bin, Mode: 0o755}, {Name: "LICENSE", Path: lic, Mode: 0o644}}
		mtime := time.Unix(1700000000, 0)
		for _, ext := range []string{".tar.gz", ".zip"} {
			a, b := filepath.Join(dir, "a"+ext), filepath.Join(dir, "b"+ext)
			if err := WriteArchive(a, files, mtime); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // the wall clock must not leak in
			if err := WriteArchive(b, files, mtime); err != nil {
				t.Fatal(err)
			}
			da, _ := os.ReadFile(a)
			db, _ := os.ReadFile(b)
			if !bytes.Equal(da, db) {
				t.Errorf("%s archives differ", ext)
			}
			names := map[string]string{}
			if ext == ".zip" {
				zr, err := zip.NewReader(bytes.NewReader(da), int64(len(da)))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range zr.File {
					rc, _ := f.Open()
					data, _ := io.ReadAll(rc)
					names[f.Name] = string(data)
				}
			} else {
				gz, err := gzip.NewReader(bytes.NewReader(da))
				if err != nil {
					t.Fatal(err)
				}
				tr := tar.NewReader(gz)
				for {
					h, err := tr.Next()
					if err != nil {
						break
					}
					data, _ := io.ReadAll(tr)
					names[h.Name] = string(data)
					if h.Name == "kubectl-winimage" && h.Mode != 0o755 {
						t.Errorf("mode %o", h.Mode)
					}
				}
			}
			if names["kubectl-winimage"] != "binary" || names["LICENSE"] != "license" || len(names) != 2 {
				t.Errorf("%s holds %v", ext, names)
			}
		}
	})
}

func TestChecksumsAreSha256sumLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.tar.gz")
	os.WriteFile(p, []byte("abc"), 0o644)
	out := filepath.Join(dir, "checksums.txt")
	if err := WriteChecksums(out, []string{p}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  x.tar.gz\n" {
		t.Errorf("%q", got)
	}
}
