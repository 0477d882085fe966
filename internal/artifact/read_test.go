package artifact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// TestMetadataOnly: entries of every size around the chunk size, stored
// and deflated, verify the same with MetadataOnly as without (open compares
// Open and OpenBytes, keeping everything and metadata only), and a byte
// changed in a module's last chunk is caught by all four.
func TestMetadataOnly(t *testing.T) {
	for _, size := range []int{1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		for _, method := range []Method{Store, Deflate} {
			t.Run(fmt.Sprintf("%d/%v", size, method), func(t *testing.T) {
				req := goodRequest(testKey("good"))
				req.Modules = []File{
					{Path: "modules/a.wasm", Data: pseudoRandom(size, "a")},
					{Path: "modules/b.wasm", Data: wasmLike(size)},
				}
				req.Assets = append(req.Assets, File{Path: "assets/big.bin", Data: pseudoRandom(size+7, "big")})
				req.ModuleMethod = method
				data := build(t, req).Bytes
				a := mustOpen(t, data)
				m, err := open(data, &ReadOptions{MetadataOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Files) != 4 || len(m.Entries) != len(a.Files) {
					t.Fatalf("MetadataOnly kept %d files and described %d entries, want 4 and %d", len(m.Files), len(m.Entries), len(a.Files))
				}

				mod, _ := a.File("modules/b.wasm")
				mod = bytes.Clone(mod)
				mod[len(mod)-1] ^= 1
				_, err = open(write(t, replace(a.Files, "modules/b.wasm", mod), method), nil)
				var ce *CheckError
				if !errors.As(err, &ce) || ce.Check != CheckIntegrity || ce.Entry != "modules/b.wasm" {
					t.Fatalf("last byte changed: %v, want check %s on modules/b.wasm", err, CheckIntegrity)
				}
			})
		}
	}
}

// TestMetadataOnlyMemory: with MetadataOnly a deflated 8 MiB module is
// verified in a few chunk buffers, not a buffer of its size.
func TestMetadataOnlyMemory(t *testing.T) {
	const size = 8 << 20
	req := goodRequest(testKey("good"))
	req.Modules = []File{{Path: "modules/big.wasm", Data: wasmLike(size)}}
	req.ModuleMethod = Deflate
	data := build(t, req).Bytes
	for _, tc := range []struct {
		opts     *ReadOptions
		min, max uint64
	}{
		{nil, size, 4 * size},
		{&ReadOptions{MetadataOnly: true}, 0, 2 << 20},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := OpenBytes(context.Background(), data, tc.opts); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n < tc.min || n > tc.max {
			t.Errorf("OpenBytes(%+v) allocated %d bytes for an 8 MiB module, want %d to %d", tc.opts, n, tc.min, tc.max)
		}
	}
}

// holeReaderAt fails reads that reach into [from, to): with err, or, when
// err is nil, by coming back short with io.EOF (a file cut there).
type holeReaderAt struct {
	b        []byte
	from, to int64
	err      error
}

func (r holeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= r.from || off >= r.to {
		return bytes.NewReader(r.b).ReadAt(p, off)
	}
	if r.err != nil {
		return 0, r.err
	}
	n := copy(p, r.b[off:max(off, r.from)])
	return n, io.EOF
}

// TestOpenReadErrorInEntry: a read that fails, or comes back short, inside a
// deflated entry's compressed bytes is reported as the I/O error it is, not
// as a deflate or size check the entry failed.
func TestOpenReadErrorInEntry(t *testing.T) {
	req := goodRequest(testKey("good"))
	req.Modules = []File{{Path: "modules/big.wasm", Data: wasmLike(1 << 20)}} // ~330 KB deflated
	req.ModuleMethod = Deflate
	data := build(t, req).Bytes
	// In its compressed bytes, past the first read-ahead.
	at := int64(bytes.Index(data, []byte("modules/big.wasm"))) + 200_000
	errDisk := errors.New("disk on fire")
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"error", errDisk, errDisk},
		{"short", nil, io.ErrUnexpectedEOF},
	} {
		for _, metadataOnly := range []bool{false, true} {
			r := holeReaderAt{b: data, from: at, to: at + 10, err: tc.err}
			_, err := Open(context.Background(), r, int64(len(data)), &ReadOptions{MetadataOnly: metadataOnly})
			var ce *CheckError
			if !errors.Is(err, tc.want) || errors.As(err, &ce) {
				t.Errorf("%s, MetadataOnly %v: %v, want %v and no failed check", tc.name, metadataOnly, err, tc.want)
			}
		}
	}
}
