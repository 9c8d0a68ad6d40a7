// Package krew packages the plugin for krew: one archive per platform
// (tar.gz, zip on Windows) with the binary and LICENSE, a checksums file,
// and the krew plugin manifest rendered from winimage.yaml.tmpl. Archives
// are deterministic: the same files and time give the same bytes.
package krew

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one file to put in an archive.
type File struct {
	// Name inside the archive; Path on disk.
	Name, Path string
	Mode       int64
}

// WriteArchive writes files to out as a tar.gz, or a zip when out ends in
// .zip. Entries are sorted and carry mtime, no owner names and fixed
// modes, so the bytes depend only on the contents and mtime.
func WriteArchive(out string, files []File, mtime time.Time) error {
	files = append([]File(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if strings.HasSuffix(out, ".zip") {
		err = writeZip(f, files, mtime)
	} else {
		err = writeTarGz(f, files, mtime)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

func writeTarGz(w io.Writer, files []File, mtime time.Time) error {
	// A zero gzip header: no name, no mtime, so nothing varies.
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, file := range files {
		data, err := os.ReadFile(file.Path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: file.Name, Mode: file.Mode, Size: int64(len(data)), ModTime: mtime.UTC().Truncate(time.Second), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, files []File, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, file := range files {
		data, err := os.ReadFile(file.Path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: file.Name, Method: zip.Deflate, Modified: mtime.UTC().Truncate(time.Second)}
		hdr.SetMode(os.FileMode(file.Mode))
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// SHA256 is the hex sha256 of a file.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteChecksums writes "sha256  name" lines for paths, sorted by name, in
// the format `sha256sum -c` reads.
func WriteChecksums(out string, paths []string) error {
	var lines []string
	for _, p := range paths {
		sum, err := SHA256(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s  %s\n", sum, filepath.Base(p)))
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	return os.WriteFile(out, []byte(strings.Join(lines, "")), 0o644)
}
