package artifact

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/palyra/palyra-go/internal/signing"
)

const goldenDir = "../../testdata/palyra-v1"

// TestOpenGolden verifies the test vector written by an independent
// implementation of Palyra's rules.
func TestOpenGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(goldenDir, "golden.palyra-skill"))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(goldenDir, "publisher.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	a := mustOpen(t, data)
	for _, c := range []struct{ what, got, want string }{
		{"payload digest", a.PayloadSHA256, "aef035c161ae0622a36ffe4f8de6d35d1594fcfb026c0d7e45dacf049d148c9d"},
		{"key id", a.KeyID, "ed25519:2ef75dfce7823b5e"},
		{"publisher", a.Manifest.Publisher, "golden"},
		{"skill id", a.Manifest.SkillID, "golden.echo"},
		{"version", a.Manifest.Version, "1.0.0"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !pub.Equal(a.PublicKey) {
		t.Errorf("embedded key %x is not publisher.pub.pem's %x", a.PublicKey, pub)
	}
	if a.Signature.SignedAtUnixMS != 1700000000000 {
		t.Errorf("signed_at_unix_ms = %d", a.Signature.SignedAtUnixMS)
	}
	if mods := a.Modules(); len(mods) != 1 || mods[0].Path != "modules/echo.wasm" || !bytes.Equal(mods[0].Data, emptyWasm) {
		t.Errorf("modules = %v", mods)
	}
}

func TestBuildThenOpen(t *testing.T) {
	for _, m := range []Method{Deflate, Store} {
		req := goodRequest(testKey("good"))
		req.ModuleMethod = m
		b := build(t, req)
		a := mustOpen(t, b.Bytes)
		if a.PayloadSHA256 != b.PayloadSHA256 {
			t.Errorf("method %d: digest %s, Build said %s", m, a.PayloadSHA256, b.PayloadSHA256)
		}
		if a.Signature != b.Signature {
			t.Errorf("method %d: signature %+v, Build said %+v", m, a.Signature, b.Signature)
		}
		if !bytes.Equal(a.ManifestTOML, b.ManifestTOML) {
			t.Errorf("method %d: skill.toml differs from Build's", m)
		}
		if !a.PublicKey.Equal(req.Key.Public()) {
			t.Errorf("method %d: wrong public key", m)
		}
		var paths []string
		for _, f := range a.Files {
			paths = append(paths, f.Path)
		}
		want := []string{"assets/readme.txt", "modules/echo.wasm", "provenance.json", "sbom.cdx.json", "signature.json", "skill.toml"}
		if !slices.Equal(paths, want) {
			t.Errorf("method %d: files %q, want %q", m, paths, want)
		}
		if got := len(a.Manifest.Integrity.Files); got != 4 {
			t.Errorf("method %d: %d integrity entries, want 4", m, got)
		}
	}
}

func TestBuildDeterministic(t *testing.T) {
	for _, m := range []Method{Deflate, Store} {
		req := goodRequest(testKey("good"))
		req.ModuleMethod = m
		one, two := build(t, req), build(t, req)
		if !bytes.Equal(one.Bytes, two.Bytes) {
			t.Errorf("method %d: two builds of the same request differ", m)
		}
	}
}

// TestRewriteReverifies: the signature covers contents, not ZIP bytes, so
// an accepted artifact's files written again must verify identically.
func TestRewriteReverifies(t *testing.T) {
	a := mustOpen(t, build(t, goodRequest(testKey("good"))).Bytes)
	b := mustOpen(t, write(t, a.Files, Store))
	if a.PayloadSHA256 != b.PayloadSHA256 {
		t.Fatalf("digest changed: %s -> %s", a.PayloadSHA256, b.PayloadSHA256)
	}
}

// TestOtherKeyVerifies documents the boundary with the trust store: an
// artifact re-signed end to end by another key is internally consistent,
// so Open accepts it and reports the other key; refusing it is trust's job.
func TestOtherKeyVerifies(t *testing.T) {
	good := mustOpen(t, build(t, goodRequest(testKey("good"))).Bytes)
	other := testKey("other")
	a := mustOpen(t, write(t, resign(t, good.Files, other, "acme"), Deflate))
	if !a.PublicKey.Equal(other.Public()) || a.PublicKey.Equal(good.PublicKey) {
		t.Fatal("Open did not report the re-signing key")
	}
}

func TestOpenCanceled(t *testing.T) {
	data := build(t, goodRequest(testKey("good"))).Bytes
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, bytes.NewReader(data), int64(len(data)), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with canceled context: %v", err)
	}
}

// TestOpenAcceptsWriterVariants: ZIP details other writers (Palyra's zip
// crate, Info-ZIP, Windows tools) legitimately produce are accepted.
func TestOpenAcceptsWriterVariants(t *testing.T) {
	files := mustOpen(t, build(t, goodRequest(testKey("good"))).Bytes).Files
	tests := []struct {
		name string
		edit func(*rawZip)
	}{
		{"permissions without file type", func(z *rawZip) {
			for _, e := range z.entries {
				e.central.external = 0o644 << 16
			}
		}},
		{"MS-DOS attributes", func(z *rawZip) {
			for _, e := range z.entries {
				e.central.creator, e.central.external = 20, 0x20 // archive bit
			}
		}},
		{"UTF-8 flag and timestamps", func(z *rawZip) {
			for _, e := range z.entries {
				e.both(func(h *rawHeader) { h.flags = 1 << 11 })
				e.local.extra = []byte{0x55, 0x54, 5, 0, 1, 0, 0, 0, 0}
				e.central.extra = []byte{0x55, 0x54, 5, 0, 1, 0, 0, 0, 0}
			}
		}},
		{"stored", func(z *rawZip) {
			for i, e := range z.entries {
				z.entries[i] = newRawEntry(e.central.name, files[i].Data, methodStore)
			}
		}},
	}
	for _, tc := range tests {
		z := rawFromFiles(files)
		tc.edit(z)
		if _, err := open(z.bytes(), nil); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// eofReaderAt returns io.EOF with a full read at the end of its data, as
// io.ReaderAt permits.
type eofReaderAt struct{ b []byte }

func (r eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if off+int64(n) == int64(len(r.b)) {
		return n, io.EOF
	}
	return n, nil
}

func TestOpenReaderAtEdges(t *testing.T) {
	data := build(t, goodRequest(testKey("good"))).Bytes
	ctx := context.Background()
	if _, err := Open(ctx, eofReaderAt{data}, int64(len(data)), nil); err != nil {
		t.Errorf("EOF with a full read at the end: %v", err)
	}
	// A size larger than the reader: the read fails, and no check passes
	// on bytes that are not there.
	_, err := Open(ctx, bytes.NewReader(data), int64(len(data))+100, nil)
	if err == nil {
		t.Error("Open accepted a size past the end of the reader")
	}
}

// TestBombMemoryBounded: an entry whose header understates what it inflates
// to costs only its declared size: inflation stops one byte past it.
func TestBombMemoryBounded(t *testing.T) {
	files := mustOpen(t, build(t, goodRequest(testKey("good"))).Bytes).Files
	z := rawFromFiles(files)
	bomb := newRawEntry("assets/bomb", make([]byte, 32<<20), methodDeflate) // ~32 KiB compressed
	bomb.both(func(h *rawHeader) { h.usize = 1000 })
	z.entries = append([]*rawEntry{bomb}, z.entries...)
	data := z.bytes()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := open(data, nil)
	runtime.ReadMemStats(&after)
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Check != CheckSize {
		t.Fatalf("Open: %v, want check %s", err, CheckSize)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
		t.Errorf("Open allocated %d bytes for a 32 MiB bomb declared as 1000 bytes", n)
	}
}
