// Command guest is the runtime's test and benchmark guest: one module
// whose exports exercise the Extism kernel ABI, palyra's bulk path and
// extras, and the ways a guest can misbehave. Build it for
// GOOS=wasip1 GOARCH=wasm with -buildmode=c-shared (testguest does).
//
// It declares its imports itself rather than using package sdk, so the
// runtime's tests pin the ABI independently of the SDK.
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

func main() {}

// The Extism kernel ABI.

//go:wasmimport extism:host/env input_length
func inputLength() uint64

//go:wasmimport extism:host/env input_load_u8
func inputLoadU8(uint64) uint32

//go:wasmimport extism:host/env input_load_u64
func inputLoadU64(uint64) uint64

//go:wasmimport extism:host/env alloc
func alloc(uint64) uint64

//go:wasmimport extism:host/env free
func free(uint64)

//go:wasmimport extism:host/env length
func length(uint64) uint64

//go:wasmimport extism:host/env load_u8
func loadU8(uint64) uint32

//go:wasmimport extism:host/env load_u64
func loadU64(uint64) uint64

//go:wasmimport extism:host/env store_u8
func storeU8(uint64, uint32)

//go:wasmimport extism:host/env store_u64
func storeU64(uint64, uint64)

//go:wasmimport extism:host/env output_set
func outputSet(uint64, uint64)

//go:wasmimport extism:host/env error_set
func errorSet(uint64)

//go:wasmimport extism:host/env error_get
func errorGet() uint64

//go:wasmimport extism:host/env config_get
func configGet(uint64) uint64

//go:wasmimport extism:host/env var_get
func varGet(uint64) uint64

//go:wasmimport extism:host/env var_set
func varSet(uint64, uint64)

//go:wasmimport extism:host/env log_info
func logInfo(uint64)

//go:wasmimport extism:host/env log_debug
func logDebug(uint64)

//go:wasmimport extism:host/env get_log_level
func getLogLevel() int32

//go:wasmimport extism:host/env http_request
func httpRequest(uint64, uint64) uint64

//go:wasmimport extism:host/env http_status_code
func httpStatusCode() int32

//go:wasmimport extism:host/env http_headers
func httpHeaders() uint64

// palyra's extras.

//go:wasmimport extism:host/user palyra_secret_get
func secretGet(uint64) uint64

//go:wasmimport palyra:host/env input_read
func inputRead(dst unsafe.Pointer, n uint32) uint32

//go:wasmimport palyra:host/env output_write
func outputWrite(src unsafe.Pointer, n uint32)

//go:wasmimport palyra:host/env error_write
func errorWrite(src unsafe.Pointer, n uint32)

// Buffers reused across calls, so the benchmarks measure the ABI rather
// than the guest's garbage collector.
var inBuf, outBuf []byte

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		b = make([]byte, n)
	}
	return b[:n]
}

// input reads the input the Extism way: u64 at a time, then bytes.
func input() []byte {
	n := int(inputLength())
	inBuf = grow(inBuf, n)
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(inBuf[i:], inputLoadU64(uint64(i)))
	}
	for ; i < n; i++ {
		inBuf[i] = byte(inputLoadU8(uint64(i)))
	}
	return inBuf
}

// put copies b into a new kernel block the Extism way.
func put(b []byte) uint64 {
	n := len(b)
	h := alloc(uint64(n))
	i := 0
	for ; i+8 <= n; i += 8 {
		storeU64(h+uint64(i), binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < n; i++ {
		storeU8(h+uint64(i), uint32(b[i]))
	}
	return h
}

// get copies the block h out of the kernel.
func get(h uint64) []byte {
	n := int(length(h))
	b := make([]byte, n)
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], loadU64(h+uint64(i)))
	}
	for ; i < n; i++ {
		b[i] = byte(loadU8(h + uint64(i)))
	}
	return b
}

func output(b []byte) { outputSet(put(b), uint64(len(b))) }

func fail(msg string) int32 {
	errorSet(put([]byte(msg)))
	return 1
}

//go:wasmexport noop
func noop() int32 { return 0 }

//go:wasmexport echo
func echo() int32 {
	output(input())
	return 0
}

//go:wasmexport echo_bulk
func echoBulk() int32 {
	n := uint32(inputLength())
	inBuf = grow(inBuf, int(n)+1) // +1: &inBuf[0] exists for empty input
	n = inputRead(unsafe.Pointer(&inBuf[0]), n)
	outputWrite(unsafe.Pointer(&inBuf[0]), n)
	return 0
}

// raw_buf and raw_echo are the baseline: no kernel, the host writes the
// input into guest memory and reads the output from it.

//go:wasmexport raw_buf
func rawBuf(n int32) int32 {
	inBuf = grow(inBuf, int(n)+1)
	return int32(uintptr(unsafe.Pointer(&inBuf[0])))
}

//go:wasmexport raw_echo
func rawEcho(ptr, n int32) int32 {
	in := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), n)
	outBuf = grow(outBuf, int(n)+1)
	copy(outBuf, in)
	return int32(uintptr(unsafe.Pointer(&outBuf[0])))
}

// fail sets the input as the error message and returns 1.
//
//go:wasmexport fail
func failExport() int32 { return fail(string(input())) }

//go:wasmexport fail_code
func failCode() int32 { return 7 }

//go:wasmexport fail_bulk
func failBulk() int32 {
	msg := []byte("bulk failure")
	errorWrite(unsafe.Pointer(&msg[0]), uint32(len(msg)))
	return 0
}

// config outputs the config value named by the input.
//
//go:wasmexport config
func config() int32 {
	h := configGet(put(input()))
	if h == 0 {
		output([]byte("<unset>"))
		return 0
	}
	output(get(h))
	return 0
}

// count increments the var "count" and outputs its new value.
//
//go:wasmexport count
func count() int32 {
	var n uint64
	if h := varGet(put([]byte("count"))); h != 0 {
		n = binary.LittleEndian.Uint64(get(h))
	}
	n++
	v := binary.LittleEndian.AppendUint64(nil, n)
	varSet(put([]byte("count")), put(v))
	output([]byte(strconv.FormatUint(n, 10)))
	return 0
}

// log logs the input at info and debug and outputs get_log_level.
//
//go:wasmexport log
func logExport() int32 {
	in := input()
	logInfo(put(in))
	logDebug(put(append([]byte("debug: "), in...)))
	output([]byte(strconv.Itoa(int(getLogLevel()))))
	return 0
}

// secret outputs the secret the input names ("scope/key"), or fails with
// the host's error.
//
//go:wasmexport secret
func secret() int32 {
	h := secretGet(put(input()))
	if h == 0 {
		if errorGet() == 0 {
			output(nil) // an empty secret
			return 0
		}
		return 1 // the host's message is already the call's error
	}
	output(get(h))
	return 0
}

// secret_recover falls back to a default when the secret is denied.
//
//go:wasmexport secret_recover
func secretRecover() int32 {
	h := secretGet(put(input()))
	if h == 0 {
		errorSet(0)
		output([]byte("fallback"))
		return 0
	}
	output(get(h))
	return 0
}

// http sends the input as an Extism request and outputs
// "status headers-json body".
//
//go:wasmexport http
func httpExport() int32 {
	h := httpRequest(put(input()), 0)
	var body []byte
	if h != 0 {
		body = get(h)
	}
	out := fmt.Sprintf("%d %s %s", httpStatusCode(), get(httpHeaders()), body)
	output([]byte(out))
	return 0
}

// workData and workSum are work's: package-level, so that a call
// allocates nothing and its cost does not depend on the heap's state.
var (
	workData [20000]uint32
	workSum  uint32
)

// work is compute-bound and calls no host function: it fills workData
// with pseudo-random numbers, sorts them (heapsort) and hashes them
// (FNV-1a). Its instruction count is the same on every call.
//
//go:wasmexport work
func work() int32 {
	x := uint32(2463534242)
	for i := range workData {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		workData[i] = x
	}
	a := workData[:]
	for i := len(a)/2 - 1; i >= 0; i-- {
		siftDown(a, i, len(a))
	}
	for end := len(a) - 1; end > 0; end-- {
		a[0], a[end] = a[end], a[0]
		siftDown(a, 0, end)
	}
	h := uint32(2166136261)
	for _, v := range a {
		h = (h ^ v) * 16777619
	}
	workSum = h
	return 0
}

func siftDown(a []uint32, root, end int) {
	for {
		child := 2*root + 1
		if child >= end {
			return
		}
		if child+1 < end && a[child] < a[child+1] {
			child++
		}
		if a[root] >= a[child] {
			return
		}
		a[root], a[child] = a[child], a[root]
		root = child
	}
}

var spinCount uint64

//go:wasmexport spin
func spin() int32 {
	for {
		spinCount++
	}
}

//go:wasmexport sleep
func sleep() int32 {
	time.Sleep(time.Hour)
	return 0
}

var hoard [][]byte

// hog allocates 1 MiB at a time until the runtime cannot get more.
//
//go:wasmexport hog
func hog() int32 {
	for {
		b := make([]byte, 1<<20)
		b[len(b)-1] = 1
		hoard = append(hoard, b)
	}
}

//go:wasmexport panic
func panicExport() int32 { panic("boom from the guest") }

// oob loads from beyond the end of linear memory: a Wasm trap.
//
//go:wasmexport oob
func oob() int32 {
	p := (*byte)(unsafe.Pointer(uintptr(0xfffffff0)))
	return int32(*p)
}

//go:wasmexport print
func print() int32 {
	in := string(input())
	fmt.Println("out:", in)
	fmt.Fprintln(os.Stderr, "err:", in)
	return 0
}

//go:wasmexport read_file
func readFile() int32 {
	b, err := os.ReadFile(string(input()))
	if err != nil {
		return fail(err.Error())
	}
	output(b)
	return 0
}

// write_file writes "path\ncontent".
//
//go:wasmexport write_file
func writeFile() int32 {
	path, content, _ := strings.Cut(string(input()), "\n")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fail(err.Error())
	}
	return 0
}

// link makes "kind\ntarget\nname": a symbolic link (kind "symlink") or
// a hard link ("hard") named name to target.
//
//go:wasmexport link
func link() int32 {
	parts := strings.SplitN(string(input()), "\n", 3)
	if len(parts) != 3 {
		return fail("want kind\\ntarget\\nname")
	}
	mk := os.Symlink
	if parts[0] == "hard" {
		mk = os.Link
	}
	if err := mk(parts[1], parts[2]); err != nil {
		return fail(err.Error())
	}
	return 0
}

//go:wasmexport exit
func exit() int32 {
	n, _ := strconv.Atoi(string(input()))
	os.Exit(n)
	return 0
}

// big outputs as many bytes as the input says, the Extism way.
//
//go:wasmexport big
func big() int32 {
	n, _ := strconv.Atoi(string(input()))
	h := alloc(uint64(n))
	if h == 0 {
		return fail("alloc failed")
	}
	outputSet(h, uint64(n))
	return 0
}

// now outputs the wall clock, to check clocks are real.
//
//go:wasmexport now
func now() int32 {
	output([]byte(time.Now().UTC().Format(time.RFC3339)))
	return 0
}

// log_flood logs "n size": n records of size bytes through log_info, as
// fast as it can; with a third field, a stdout line after each record too.
//
//go:wasmexport log_flood
func logFlood() int32 {
	var n, size, stdout int
	fmt.Sscan(string(input()), &n, &size, &stdout)
	line := []byte(strings.Repeat("o", size) + "\n")
	for i := range n {
		h := alloc(uint64(size))
		if h == 0 {
			return fail(fmt.Sprintf("alloc failed after %d records: the host does not free them", i))
		}
		logInfo(h) // the host frees it
		if stdout != 0 {
			os.Stdout.Write(line)
		}
	}
	output([]byte("done"))
	return 0
}

// held are the files fs keeps open across calls.
var held []*os.File

// fs runs file operations, one a line, and outputs one result a line:
// "ok", or the error. The operations:
//
//	open_many DIR N   create DIR/f0… and keep them open; outputs the count opened and the error
//	close_all         close the files kept open
//	hold PATH N       create PATH with N bytes and keep it open
//	write PATH OFF N  write N bytes at OFF (creating PATH)
//	append PATH N     append N bytes (creating PATH)
//	truncate PATH N   set PATH's size to N
//	remove PATH
//	rename FROM TO
//
//go:wasmexport fs
func fsExport() int32 {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(input())), "\n") {
		f := strings.Fields(line)
		num := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
		var err error
		switch f[0] {
		case "open_many":
			n, opened := int(num(2)), 0
			for ; opened < n; opened++ {
				var h *os.File
				if h, err = os.OpenFile(fmt.Sprintf("%s/f%d", f[1], opened), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
					break
				}
				held = append(held, h)
			}
			out = append(out, fmt.Sprintf("%d %v", opened, err))
			continue
		case "close_all":
			for _, h := range held {
				h.Close()
			}
			held = nil
		case "hold":
			var h *os.File
			if h, err = os.Create(f[1]); err == nil {
				held = append(held, h)
				_, err = h.Write(make([]byte, num(2)))
			}
		case "write", "append":
			flag, off, n := os.O_RDWR|os.O_CREATE, int64(0), int64(0)
			if f[0] == "append" {
				flag, n = os.O_WRONLY|os.O_CREATE|os.O_APPEND, num(2)
			} else {
				off, n = num(2), num(3)
			}
			var h *os.File
			if h, err = os.OpenFile(f[1], flag, 0o644); err == nil {
				if flag&os.O_APPEND != 0 {
					_, err = h.Write(make([]byte, n))
				} else {
					_, err = h.WriteAt(make([]byte, n), off)
				}
				h.Close()
			}
		case "truncate":
			var h *os.File
			if h, err = os.OpenFile(f[1], os.O_RDWR, 0); err == nil {
				err = h.Truncate(num(2))
				h.Close()
			}
		case "remove":
			err = os.Remove(f[1])
		case "rename":
			err = os.Rename(f[1], f[2])
		default:
			err = fmt.Errorf("unknown operation %q", f[0])
		}
		if err != nil {
			out = append(out, err.Error())
		} else {
			out = append(out, "ok")
		}
	}
	output([]byte(strings.Join(out, "\n")))
	return 0
}
