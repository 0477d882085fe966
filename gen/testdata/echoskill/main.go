//go:build wasip1

// Command echoskill is the test guest of package gen: a tiny Extism-ABI
// skill exporting one tool, "echo", that returns its input prefixed by
// greet.Prefix — or "match" when the input matches the glob "palyra*",
// which pulls a real proxy module (github.com/gobwas/glob) into the build.
package main

import (
	"example.com/greet"
	"github.com/gobwas/glob"
)

//go:wasmimport extism:host/env input_length
func inputLength() uint64

//go:wasmimport extism:host/env input_load_u8
func inputLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env alloc
func alloc(n uint64) uint64

//go:wasmimport extism:host/env store_u8
func storeU8(offset uint64, v uint32)

//go:wasmimport extism:host/env output_set
func outputSet(offset, n uint64)

var pattern = glob.MustCompile("palyra*")

//go:wasmexport echo
func echo() int32 {
	n := inputLength()
	in := make([]byte, n)
	for i := range in {
		in[i] = byte(inputLoadU8(uint64(i)))
	}
	out := greet.Wrap(in)
	if pattern.Match(string(in)) {
		out = []byte("match")
	}
	off := alloc(uint64(len(out)))
	for i, b := range out {
		storeU8(off+uint64(i), uint32(b))
	}
	outputSet(off, uint64(len(out)))
	return 0
}

func main() {}
