package kernel

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

//go:generate wat2wasm kernel.wat -o kernel.wasm

// Wasm is the kernel module, assembled from kernel.wat.
//
//go:embed kernel.wasm
var Wasm []byte

// GoModule is the import module name under which the kernel expects the
// Go half of extism:host/env (GoFunctions). It is resolved per instance by
// the runtime and is not an ABI: guests never import it.
const GoModule = "palyra:host/go"

// GoFunction describes one function the kernel imports from GoModule and
// re-exports to guests as part of extism:host/env.
type GoFunction struct {
	Name    string
	Params  []api.ValueType
	Results []api.ValueType
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// GoFunctions lists, with Extism's signatures, the extism:host/env
// functions implemented in Go rather than in kernel.wat.
func GoFunctions() []GoFunction {
	return []GoFunction{
		{"config_get", []api.ValueType{i64}, []api.ValueType{i64}},
		{"var_get", []api.ValueType{i64}, []api.ValueType{i64}},
		{"var_set", []api.ValueType{i64, i64}, nil},
		{"http_request", []api.ValueType{i64, i64}, []api.ValueType{i64}},
		{"http_status_code", nil, []api.ValueType{i32}},
		{"http_headers", nil, []api.ValueType{i64}},
		{"log_trace", []api.ValueType{i64}, nil},
		{"log_debug", []api.ValueType{i64}, nil},
		{"log_info", []api.ValueType{i64}, nil},
		{"log_warn", []api.ValueType{i64}, nil},
		{"log_error", []api.ValueType{i64}, nil},
		{"get_log_level", nil, []api.ValueType{i32}},
	}
}

// Layout of kernel memory; see kernel.wat.
const (
	// heapBase is the address of the first block header.
	heapBase = 16
	// headerSize is the size of a block header; a handle is the address
	// just past its header.
	headerSize = 16
	// tagMagic is xor-ed with a handle to give its header's tag.
	tagMagic = 0x50414c59

	statusActive = 1

	pageSize = 65536
)

// ErrMemory reports that kernel memory could not grow to hold a block:
// the plugin's memory quota is reached.
var ErrMemory = errors.New("kernel: memory quota reached")

// Instance is one kernel instance, seen from the host: it reads and writes
// the kernel's state and memory directly, without calling into Wasm,
// except for Alloc.
//
// An Instance is used by one goroutine at a time, like the guest instance
// it belongs to.
type Instance struct {
	mod         api.Module
	mem         api.Memory
	alloc, free api.Function
	stack       [1]uint64

	pos, hw, nfree                         api.MutableGlobal
	inOff, inLen, outOff, outLen, errBlock api.MutableGlobal
}

// Bind returns the host's view of the kernel instance mod.
func Bind(mod api.Module) (*Instance, error) {
	k := &Instance{
		mod:   mod,
		mem:   mod.ExportedMemory("memory"),
		alloc: mod.ExportedFunction("alloc"),
		free:  mod.ExportedFunction("free"),
	}
	if k.mem == nil || k.alloc == nil || k.free == nil {
		return nil, errors.New("kernel: module lacks memory, alloc or free")
	}
	for _, g := range []struct {
		name string
		dst  *api.MutableGlobal
	}{
		{"palyra.pos", &k.pos}, {"palyra.hw", &k.hw}, {"palyra.nfree", &k.nfree},
		{"palyra.in_off", &k.inOff}, {"palyra.in_len", &k.inLen},
		{"palyra.out_off", &k.outOff}, {"palyra.out_len", &k.outLen},
		{"palyra.err", &k.errBlock},
	} {
		mg, ok := mod.ExportedGlobal(g.name).(api.MutableGlobal)
		if !ok {
			return nil, fmt.Errorf("kernel: global %s missing", g.name)
		}
		*g.dst = mg
	}
	return k, nil
}

// Memory returns the kernel's linear memory.
func (k *Instance) Memory() api.Memory { return k.mem }

// Reset does what the kernel's reset export does: frees every block,
// zeroes the bytes they used and clears input, output and error.
func (k *Instance) Reset() {
	if hw := uint32(k.hw.Get()); hw > heapBase {
		if used, ok := k.mem.Read(heapBase, hw-heapBase); ok {
			clear(used)
		}
	}
	k.setState(heapBase, 0, 0)
}

// setState sets every global of a kernel whose blocks end at end and
// whose input is the block at inOff (0: none) of inLen bytes: nothing
// freed, no output, no error.
func (k *Instance) setState(end, inOff, inLen uint64) {
	k.pos.Set(end)
	k.hw.Set(end)
	k.nfree.Set(0)
	k.inOff.Set(inOff)
	k.inLen.Set(inLen)
	k.outOff.Set(0)
	k.outLen.Set(0)
	k.errBlock.Set(0)
}

// SetInput resets the kernel and makes input the call's input: the first
// block, as if the guest had allocated it. An empty input is no block at
// all (offset 0, length 0), as in Extism.
//
// It is Reset and an alloc in one pass, each global set once: it runs
// before every call. An input that does not fit resets the kernel and
// returns ErrMemory.
func (k *Instance) SetInput(input []byte) error {
	if len(input) == 0 {
		k.Reset()
		return nil
	}
	if !k.setInput(input) {
		k.Reset()
		return ErrMemory
	}
	return nil
}

// setInput is SetInput for a non-empty input; it reports false if the
// input does not fit in the kernel's memory.
func (k *Instance) setInput(input []byte) bool {
	if uint64(len(input)) > 0xffff0000 {
		return false
	}
	end := uint64(heapBase+headerSize) + uint64(len(input))
	if size := uint64(k.mem.Size()); end > size {
		if _, ok := k.mem.Grow(uint32((end - size + pageSize - 1) / pageSize)); !ok {
			return false
		}
	}
	// Zero what the last call used beyond the input; the input block
	// overwrites the rest.
	hw := max(uint64(uint32(k.hw.Get())), end)
	buf, ok := k.mem.Read(heapBase, uint32(hw-heapBase))
	if !ok {
		return false
	}
	n := uint32(len(input))
	h := uint32(heapBase + headerSize)
	binary.LittleEndian.PutUint32(buf[0:], n)
	binary.LittleEndian.PutUint32(buf[4:], n)
	binary.LittleEndian.PutUint32(buf[8:], statusActive)
	binary.LittleEndian.PutUint32(buf[12:], h^tagMagic)
	copy(buf[headerSize:], input)
	clear(buf[end-heapBase:])
	k.setState(end, uint64(h), uint64(n))
	return true
}

// Input returns the current input as the guest sees it (input_offset,
// input_length): a view into kernel memory, valid until the memory changes.
func (k *Instance) Input() ([]byte, bool) {
	return k.view(k.inOff.Get(), k.inLen.Get())
}

// Output returns the output the guest set with output_set, a view into
// kernel memory, and whether the offset and length lie inside it.
func (k *Instance) Output() (off uint64, view []byte, ok bool) {
	off = k.outOff.Get()
	view, ok = k.view(off, k.outLen.Get())
	return off, view, ok
}

// SetOutputMark sets the output offset to mark (a value below the first
// handle, which output_set never stores) and the length to 0; the host
// uses it to note that the output lives outside kernel memory until the
// guest calls output_set again.
func (k *Instance) SetOutputMark(mark uint64) {
	k.outOff.Set(mark)
	k.outLen.Set(0)
}

// Error returns the handle the guest passed to error_set (0: none).
func (k *Instance) Error() uint64 { return k.errBlock.Get() }

// SetError records the block h as the call's error, as error_set does.
func (k *Instance) SetError(h uint64) { k.errBlock.Set(h) }

// Block returns the data of the active block h, a view into kernel
// memory; ok is false when h is not an active block's handle.
func (k *Instance) Block(h uint64) (data []byte, ok bool) {
	if h < heapBase+headerSize || h > k.pos.Get() || h > 0xffffffff {
		return nil, false
	}
	hdr, ok := k.mem.Read(uint32(h)-headerSize, headerSize)
	if !ok {
		return nil, false
	}
	capacity := binary.LittleEndian.Uint32(hdr[0:])
	used := binary.LittleEndian.Uint32(hdr[4:])
	if binary.LittleEndian.Uint32(hdr[8:]) != statusActive ||
		binary.LittleEndian.Uint32(hdr[12:]) != uint32(h)^tagMagic ||
		used > capacity || h+uint64(capacity) > k.pos.Get() {
		return nil, false
	}
	return k.view(h, uint64(used))
}

// Alloc allocates an n-byte block by calling the kernel's alloc, and
// returns its handle. It is meant for host functions, which run while the
// guest is in a call; ctx is the one the guest was called with.
func (k *Instance) Alloc(ctx context.Context, n uint64) (uint64, error) {
	if n == 0 {
		return 0, nil
	}
	k.stack[0] = n
	if err := k.alloc.CallWithStack(ctx, k.stack[:]); err != nil {
		return 0, err
	}
	if k.stack[0] == 0 {
		return 0, ErrMemory
	}
	return k.stack[0], nil
}

// Free frees the block h by calling the kernel's free; like Alloc, it is
// meant for host functions.
func (k *Instance) Free(ctx context.Context, h uint64) error {
	if h == 0 {
		return nil
	}
	k.stack[0] = h
	return k.free.CallWithStack(ctx, k.stack[:])
}

// Write allocates a block holding a copy of data and returns its handle;
// empty data is handle 0.
func (k *Instance) Write(ctx context.Context, data []byte) (uint64, error) {
	h, err := k.Alloc(ctx, uint64(len(data)))
	if err != nil || h == 0 {
		return 0, err
	}
	if !k.mem.Write(uint32(h), data) {
		return 0, ErrMemory
	}
	return h, nil
}

func (k *Instance) view(off, n uint64) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if off > 0xffffffff || n > 0xffffffff {
		return nil, false
	}
	return k.mem.Read(uint32(off), uint32(n))
}
