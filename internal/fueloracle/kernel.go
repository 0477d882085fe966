package fueloracle

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// kernel is the Extism kernel and palyra's host functions, in Go over a
// byte slice. Its observable behaviour follows palyra's kernel
// (internal/runtime/kernel/kernel.wat) where a guest's control flow could
// depend on it: 0 is the null handle, alloc(0) returns 0, length of a
// non-block is 0, out-of-range loads return 0 and stores are ignored,
// freeing the input block empties the input. Handle values differ (this
// allocator never reuses space): guests use handles as opaque offsets, so
// their fuel does not depend on them.
type kernel struct {
	mem    []byte           // kernel memory; [0, 16) is never handed out
	blocks map[int64]uint64 // active block handle -> length

	inOff, inLen   int64
	outOff, outLen int64
	errH           int64

	// bulkOut and bulkErr are palyra's output_write/error_write results;
	// outBulk says output_write set the output last.
	bulkOut []byte
	outBulk bool
	bulkErr []byte
	errBulk bool

	gap int64 // bytes between blocks beyond palyra's 16-byte header

	config  map[string]string
	vars    map[string][]byte
	secrets map[string][]byte
}

func newKernel(opts Options) *kernel {
	return &kernel{
		mem:     make([]byte, 16),
		blocks:  make(map[int64]uint64),
		gap:     opts.handleGap,
		config:  opts.Config,
		vars:    maps.Clone(opts.Vars),
		secrets: opts.Secrets,
	}
}

// reset frees every block and clears input, output and error.
func (k *kernel) reset() {
	k.mem = k.mem[:16]
	clear(k.blocks)
	k.inOff, k.inLen, k.outOff, k.outLen, k.errH = 0, 0, 0, 0, 0
	k.bulkOut, k.outBulk, k.bulkErr, k.errBulk = nil, false, nil, false
}

// begin prepares a call: a fresh kernel holding input.
func (k *kernel) begin(input []byte) {
	k.reset()
	if h := k.alloc(int64(len(input))); h != 0 {
		copy(k.mem[h:], input)
		k.inOff, k.inLen = h, int64(len(input))
	}
}

// end returns the call's output and error message.
func (k *kernel) end() (out []byte, msg string) {
	if k.outBulk {
		out = k.bulkOut
	} else if k.outLen > 0 {
		out = append([]byte(nil), k.mem[k.outOff:k.outOff+k.outLen]...)
	}
	if k.errBulk {
		msg = string(k.bulkErr)
	} else if k.errH != 0 {
		msg = string(k.block(k.errH))
	}
	return out, msg
}

func (k *kernel) alloc(n int64) int64 {
	if n <= 0 || n > 0xffff0000 {
		return 0
	}
	h := int64(len(k.mem)) + 16 + k.gap // 16 bytes stand for palyra's header
	k.mem = append(k.mem, make([]byte, 16+k.gap+n)...)
	k.blocks[h] = uint64(n)
	return h
}

func (k *kernel) free(h int64) {
	if _, ok := k.blocks[h]; !ok {
		return
	}
	if h == k.inOff {
		k.inLen = 0
	}
	delete(k.blocks, h)
}

func (k *kernel) length(h int64) int64 { return int64(k.blocks[h]) }

// block returns the active block h, or nil.
func (k *kernel) block(h int64) []byte {
	n, ok := k.blocks[h]
	if !ok {
		return nil
	}
	return k.mem[h : h+int64(n)]
}

func (k *kernel) inRange(p, n int64) bool {
	return p >= 16 && n >= 0 && n <= int64(len(k.mem)) && p+n <= int64(len(k.mem))
}

// put copies b into a new block; nil and empty values are the null handle.
func (k *kernel) put(b []byte) int64 {
	h := k.alloc(int64(len(b)))
	if h != 0 {
		copy(k.mem[h:], b)
	}
	return h
}

// guestMemory returns the calling guest's linear memory.
func guestMemory(c *wasmtime.Caller) []byte {
	ext := c.GetExport("memory")
	if ext == nil || ext.Memory() == nil {
		return nil
	}
	return ext.Memory().UnsafeData(c)
}

// define defines extism:host/env, extism:host/user and palyra:host/env in
// linker, and WASI's random_get over rnd when it is not nil.
func (k *kernel) define(l *wasmtime.Linker, rnd io.Reader) error {
	const env = "extism:host/env"
	defs := []struct {
		module, name string
		f            any
	}{
		{env, "alloc", k.alloc},
		{env, "free", k.free},
		{env, "length", k.length},
		{env, "length_unsafe", k.length},
		{env, "load_u8", func(p int64) int32 {
			if !k.inRange(p, 1) {
				return 0
			}
			return int32(k.mem[p])
		}},
		{env, "load_u64", func(p int64) int64 {
			if !k.inRange(p, 8) {
				return 0
			}
			return int64(binary.LittleEndian.Uint64(k.mem[p:]))
		}},
		{env, "store_u8", func(p int64, v int32) {
			if k.inRange(p, 1) {
				k.mem[p] = byte(v)
			}
		}},
		{env, "store_u64", func(p, v int64) {
			if k.inRange(p, 8) {
				binary.LittleEndian.PutUint64(k.mem[p:], uint64(v))
			}
		}},
		{env, "input_length", func() int64 { return k.inLen }},
		{env, "input_offset", func() int64 { return k.inOff }},
		{env, "input_load_u8", func(o int64) int32 {
			if o < 0 || o >= k.inLen {
				return 0
			}
			return int32(k.mem[k.inOff+o])
		}},
		{env, "input_load_u64", func(o int64) int64 {
			if k.inLen < 8 || o < 0 || o > k.inLen-8 {
				return 0
			}
			return int64(binary.LittleEndian.Uint64(k.mem[k.inOff+o:]))
		}},
		{env, "input_set", func(p, n int64) {
			if k.inRange(p, n) {
				k.inOff, k.inLen = p, n
			}
		}},
		{env, "output_set", func(p, n int64) {
			if k.inRange(p, n) {
				k.outOff, k.outLen, k.outBulk = p, n, false
			}
		}},
		{env, "output_length", func() int64 { return k.outLen }},
		{env, "output_offset", func() int64 { return k.outOff }},
		{env, "error_set", func(h int64) {
			switch {
			case h == 0:
				k.errH, k.errBulk = 0, false
			case k.inRange(h, 1):
				k.errH, k.errBulk = h, false
			}
		}},
		{env, "error_get", func() int64 { return k.errH }},
		{env, "reset", k.reset},
		{env, "memory_bytes", func() int64 { return int64(len(k.mem)) - 16 }},
		{env, "config_get", func(h int64) int64 {
			v, ok := k.config[string(k.block(h))]
			if !ok {
				return 0
			}
			return k.put([]byte(v))
		}},
		{env, "var_get", func(h int64) int64 { return k.put(k.vars[string(k.block(h))]) }},
		{env, "var_set", func(name, value int64) {
			key := string(k.block(name))
			if value == 0 {
				delete(k.vars, key)
				return
			}
			if k.vars == nil {
				k.vars = make(map[string][]byte)
			}
			k.vars[key] = append([]byte(nil), k.block(value)...)
		}},
		{env, "http_request", func(req, body int64) (int64, *wasmtime.Trap) {
			return 0, wasmtime.NewTrap("fueloracle: HTTP requests are not allowed")
		}},
		{env, "http_status_code", func() int32 { return 0 }},
		{env, "http_headers", func() int64 { return 0 }},
		{env, "get_log_level", func() int32 { return 2 }}, // info
		{"extism:host/user", "palyra_secret_get", func(ref int64) int64 {
			v, ok := k.secrets[string(k.block(ref))]
			if !ok {
				k.errH, k.errBulk = k.put([]byte("secret not granted")), false
				return 0
			}
			return k.put(v)
		}},
		{"palyra:host/env", "input_read", func(c *wasmtime.Caller, dst, n int32) (int32, *wasmtime.Trap) {
			m := guestMemory(c)
			cnt := min(int64(uint32(n)), k.inLen)
			if uint64(uint32(dst))+uint64(cnt) > uint64(len(m)) {
				return 0, wasmtime.NewTrap("fueloracle: input_read outside guest memory")
			}
			copy(m[uint32(dst):], k.mem[k.inOff:k.inOff+cnt])
			return int32(cnt), nil
		}},
		{"palyra:host/env", "output_write", func(c *wasmtime.Caller, src, n int32) *wasmtime.Trap {
			m := guestMemory(c)
			if uint64(uint32(src))+uint64(uint32(n)) > uint64(len(m)) {
				return wasmtime.NewTrap("fueloracle: output_write outside guest memory")
			}
			k.bulkOut = append([]byte{}, m[uint32(src):uint32(src)+uint32(n)]...)
			k.outBulk = true
			return nil
		}},
		{"palyra:host/env", "error_write", func(c *wasmtime.Caller, src, n int32) *wasmtime.Trap {
			m := guestMemory(c)
			if uint64(uint32(src))+uint64(uint32(n)) > uint64(len(m)) {
				return wasmtime.NewTrap("fueloracle: error_write outside guest memory")
			}
			k.bulkErr = append([]byte{}, m[uint32(src):uint32(src)+uint32(n)]...)
			k.errBulk = n != 0
			if n == 0 {
				k.errH = 0
			}
			return nil
		}},
	}
	for _, level := range []string{"trace", "debug", "info", "warn", "error"} {
		defs = append(defs, struct {
			module, name string
			f            any
		}{env, "log_" + level, k.free})
	}
	for _, d := range defs {
		if err := l.FuncWrap(d.module, d.name, d.f); err != nil {
			return fmt.Errorf("fueloracle: defining %s %s: %w", d.module, d.name, err)
		}
	}
	if rnd != nil {
		l.AllowShadowing(true)
		err := l.FuncWrap("wasi_snapshot_preview1", "random_get", func(c *wasmtime.Caller, buf, n int32) int32 {
			m := guestMemory(c)
			if uint64(uint32(buf))+uint64(uint32(n)) > uint64(len(m)) {
				return 21 // EFAULT
			}
			if _, err := io.ReadFull(rnd, m[uint32(buf):uint32(buf)+uint32(n)]); err != nil {
				return 29 // EIO
			}
			return 0
		})
		if err != nil {
			return fmt.Errorf("fueloracle: defining random_get: %w", err)
		}
	}
	return nil
}
