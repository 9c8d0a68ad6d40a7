// Package imagefixtures builds Windows-shaped images and pushes them to a
// registry: image indexes with windows/amd64 entries per Server build (with
// os.version) and a linux/amd64 entry, base layers shared between images the
// way servercore is shared in real fleets, layer sizes chosen by the caller,
// and optionally foreign (non-distributable) base layers as old Windows
// images had.
package imagefixtures

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// seededLayer is a layer of one file of size pseudo-random bytes derived from
// seed. The same seed always gives the same bytes and digest, so images that
// name the same base share the layer blob; the bytes are generated on every
// read instead of being held in memory, so large layers cost no RAM.
func seededLayer(seed string, size int64, windows, compressible bool) (v1.Layer, error) {
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeSeededTar(pw, seed, size, windows, compressible)) }()
		return pr, nil
	}
	if compressible {
		// Content like program files: gzip (its fastest level, to keep fixture
		// generation quick) shrinks it
		// and unpacking it costs real CPU, as with real image layers.
		return tarball.LayerFromOpener(opener,
			tarball.WithCompressionLevel(gzip.BestSpeed),
			tarball.WithMediaType(types.DockerLayer))
	}
	// Random bytes do not compress; storing them keeps the blob size close
	// to the size the caller asked for and the CPU cost low.
	return tarball.LayerFromOpener(opener,
		tarball.WithCompressionLevel(gzip.NoCompression),
		tarball.WithMediaType(types.DockerLayer))
}

func writeSeededTar(w io.Writer, seed string, size int64, windows, compressible bool) error {
	name := "layer/" + seedName(seed) + ".bin"
	if windows {
		// Windows layers keep their content under Files/ (and registry hives
		// under Hives/), which is how containerd's windows differ reads them.
		name = "Files/" + name
	}
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	var src io.Reader = newSeededReader(seed)
	if compressible {
		src = &lowEntropyReader{src}
	}
	if _, err := io.CopyN(tw, src, size); err != nil {
		return err
	}
	return tw.Close()
}

func seedName(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return fmt.Sprintf("%x", sum[:8])
}

// seededReader streams ChaCha8 output keyed by the seed.
type seededReader struct{ rng *rand.ChaCha8 }

func newSeededReader(seed string) *seededReader {
	return &seededReader{rng: rand.NewChaCha8(sha256.Sum256([]byte(seed)))}
}

func (s *seededReader) Read(p []byte) (int, error) {
	n := 0
	for ; n+8 <= len(p); n += 8 {
		binary.LittleEndian.PutUint64(p[n:], s.rng.Uint64())
	}
	if n < len(p) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], s.rng.Uint64())
		n += copy(p[n:], tail[:])
	}
	return n, nil
}

// lowEntropyReader keeps 4 random bits a byte (letters a–p), so gzip
// compresses it about 2:1 while still doing real work.
type lowEntropyReader struct{ r io.Reader }

func (l *lowEntropyReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; i++ {
		p[i] = 'a' + p[i]&0x0f
	}
	return n, err
}

// foreignLayer is a non-distributable layer: the manifest names its digest,
// size and URLs, but the registry does not hold the blob (Microsoft hosted
// Windows base layers this way until 2023). Reading it is an error, which is
// the point: nothing may try to fetch it from the registry.
type foreignLayer struct {
	digest, diffID v1.Hash
	size           int64
}

func newForeignLayer(seed string, size int64) *foreignLayer {
	d := sha256.Sum256([]byte("foreign-blob:" + seed))
	u := sha256.Sum256([]byte("foreign-diff:" + seed))
	return &foreignLayer{
		digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", d)},
		diffID: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", u)},
		size:   size,
	}
}

func (f *foreignLayer) Digest() (v1.Hash, error)            { return f.digest, nil }
func (f *foreignLayer) DiffID() (v1.Hash, error)            { return f.diffID, nil }
func (f *foreignLayer) Size() (int64, error)                { return f.size, nil }
func (f *foreignLayer) MediaType() (types.MediaType, error) { return types.DockerForeignLayer, nil }
func (f *foreignLayer) Compressed() (io.ReadCloser, error) {
	return nil, fmt.Errorf("foreign layer %s is not in the registry", f.digest)
}
func (f *foreignLayer) Uncompressed() (io.ReadCloser, error) { return f.Compressed() }

func (f *foreignLayer) url() string {
	return "https://mcr.microsoft.com/v2/windows/servercore/blobs/" + f.digest.String()
}

// Layer is one layer of a pushed image: its digest and compressed size.
type Layer struct {
	Digest string
	Size   int64
}

// LinuxImage reads the linux/amd64 entry of ref from its registry.
func LinuxImage(tb testing.TB, ref string) v1.Image {
	tb.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		tb.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// LinuxLayers are the layers of ref's linux/amd64 entry, base first.
func LinuxLayers(tb testing.TB, ref string) []Layer {
	tb.Helper()
	m, err := LinuxImage(tb, ref).Manifest()
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]Layer, 0, len(m.Layers))
	for _, l := range m.Layers {
		out = append(out, Layer{Digest: l.Digest.String(), Size: l.Size})
	}
	return out
}
