//go:build wasip1

package bulk

import "unsafe"

//go:wasmimport extism:host/env input_length
func extismInputLength() uint64

// palyra:host/env works on the guest's own memory: i32 addresses and
// lengths, one copy by the host.

//go:wasmimport palyra:host/env input_read
func palyraInputRead(dst unsafe.Pointer, n uint32) uint32

//go:wasmimport palyra:host/env output_write
func palyraOutputWrite(src unsafe.Pointer, n uint32)

func input() []byte {
	buf := make([]byte, extismInputLength())
	if len(buf) == 0 {
		return buf
	}
	n := palyraInputRead(unsafe.Pointer(&buf[0]), uint32(len(buf)))
	return buf[:n]
}

func output(b []byte) {
	// The host copies b before returning, so b need not outlive the call.
	palyraOutputWrite(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}
