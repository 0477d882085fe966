package instrument

import "fmt"

// Opcodes and prefixes the walk treats specially.
const (
	opLoop      = 0x03
	opEnd       = 0x0b
	prefixMisc  = 0xfc
	prefixSIMD  = 0xfd
	prefixAtoms = 0xfe
)

// checkSeq is the countdown inserted at loop headers and function
// entries: decrement $budget, call $check when it reaches 0.
func checkSeq(budget, check uint32) []byte {
	var b []byte
	b = append(b, 0x23) // global.get $budget
	b = appendU32(b, budget)
	b = append(b, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	b = append(b, 0x24)             // global.set $budget
	b = appendU32(b, budget)
	b = append(b, 0x23) // global.get $budget
	b = appendU32(b, budget)
	b = append(b, 0x45, 0x04, 0x40) // i32.eqz; if
	b = append(b, 0x10)             // call $check
	b = appendU32(b, check)
	return append(b, opEnd)
}

// rewriteCode rewrites the code section payload, adding the countdown to
// every function.
func rewriteCode(payload []byte, budget, check uint32) ([]byte, error) {
	seq := checkSeq(budget, check)
	r := &reader{b: payload}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(payload)+len(payload)/8), n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		b := r.bytes(int(size))
		if r.err != nil {
			return nil, r.fail("code section")
		}
		var err error
		if body, err = rewriteBody(body[:0], b, seq); err != nil {
			return nil, fmt.Errorf("%w (function %d of the code section)", err, i)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.more() {
		return nil, fmt.Errorf("%w: bytes after the code section's functions", ErrInvalid)
	}
	return out, nil
}

// rewriteBody appends to out the function body b with seq inserted at its
// entry and after every loop instruction.
func rewriteBody(out, b, seq []byte) ([]byte, error) {
	r := &reader{b: b}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.u32()
		r.valType()
	}
	if r.err != nil {
		return nil, r.fail("locals")
	}
	out = append(out, b[:r.pos]...)
	// A body that starts with a loop gets the loop's check only.
	if !r.more() || b[r.pos] != opLoop {
		out = append(out, seq...)
	}
	copied := r.pos
	depth := 1 // the function's own block
	for depth > 0 {
		if !r.more() {
			return nil, fmt.Errorf("%w: function body ends inside a block", ErrInvalid)
		}
		op := r.byte()
		switch op {
		case 0x02, 0x04, 0x06: // block, if, try (legacy)
			r.blockType()
			depth++
		case opLoop:
			r.blockType()
			depth++
			out = append(out, b[copied:r.pos]...)
			out = append(out, seq...)
			copied = r.pos
		case 0x1f: // try_table
			r.blockType()
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				switch kind := r.byte(); kind {
				case 0x00, 0x01: // catch, catch_ref: tag, label
					r.u32()
					r.u32()
				case 0x02, 0x03: // catch_all, catch_all_ref: label
					r.u32()
				default:
					return nil, fmt.Errorf("%w: catch kind %#x", ErrInvalid, kind)
				}
			}
			depth++
		case opEnd:
			depth--
		case 0x18: // delegate (legacy): ends a try
			r.u32()
			depth--
		default:
			if err := skipImmediates(r, op); err != nil {
				return nil, err
			}
		}
		if r.err != nil {
			return nil, r.fail(fmt.Sprintf("instruction %#x", op))
		}
	}
	if r.more() {
		return nil, fmt.Errorf("%w: bytes after a function's end", ErrInvalid)
	}
	return append(out, b[copied:]...), nil
}

// skipImmediates reads the immediates of op, a non-block instruction.
func skipImmediates(r *reader, op byte) error {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0a || op == 0x0f ||
		op == 0x19 || op == 0x1a || op == 0x1b || op == 0xd1 || op == 0xd4:
		// unreachable, nop, else, throw_ref, return, catch_all, drop,
		// select, ref.is_null, ref.as_non_null
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x0c || op == 0x0d ||
		op == 0x10 || op == 0x12 || op == 0x14 || op == 0x15 || op == 0xd2 ||
		op == 0xd5 || op == 0xd6 || (op >= 0x20 && op <= 0x26):
		// catch, throw, rethrow, br, br_if, call, return_call, call_ref,
		// return_call_ref, ref.func, br_on_null, br_on_non_null,
		// local.*, global.*, table.get/set: one index
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memArg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.s32()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op >= 0x45 && op <= 0xc4: // numeric
	case op == 0xd0: // ref.null
		r.heapType()
	case op == prefixMisc:
		return skipMisc(r)
	case op == prefixSIMD:
		return skipSIMD(r)
	case op == prefixAtoms:
		return skipAtomic(r)
	default:
		return fmt.Errorf("%w: opcode %#x", ErrInvalid, op)
	}
	return nil
}

func skipMisc(r *reader) error {
	switch op := r.u32(); {
	case op <= 0x07: // saturating truncations
	case op == 0x08: // memory.init data mem
		r.u32()
		r.u32()
	case op == 0x09: // data.drop
		r.u32()
	case op == 0x0a: // memory.copy mem mem
		r.u32()
		r.u32()
	case op == 0x0b: // memory.fill mem
		r.u32()
	case op == 0x0c || op == 0x0e: // table.init elem table, table.copy table table
		r.u32()
		r.u32()
	case op == 0x0d || (op >= 0x0f && op <= 0x11): // elem.drop, table.grow/size/fill
		r.u32()
	default:
		return fmt.Errorf("%w: opcode 0xfc %#x", ErrInvalid, op)
	}
	return nil
}

func skipSIMD(r *reader) error {
	switch op := r.u32(); {
	case op <= 0x0b: // loads and stores
		r.memArg()
	case op == 0x0c || op == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case op >= 0x15 && op <= 0x22: // extract_lane, replace_lane
		r.byte()
	case op >= 0x54 && op <= 0x5b: // load_lane, store_lane
		r.memArg()
		r.byte()
	case op == 0x5c || op == 0x5d: // load32_zero, load64_zero
		r.memArg()
	case op <= 0x113: // the rest, and relaxed SIMD
	default:
		return fmt.Errorf("%w: opcode 0xfd %#x", ErrInvalid, op)
	}
	return nil
}

func skipAtomic(r *reader) error {
	switch op := r.u32(); {
	case op <= 0x02: // notify, wait32, wait64
		r.memArg()
	case op == 0x03: // atomic.fence
		r.byte()
	case op >= 0x10 && op <= 0x4e: // loads, stores, read-modify-writes
		r.memArg()
	default:
		return fmt.Errorf("%w: opcode 0xfe %#x", ErrInvalid, op)
	}
	return nil
}

// reader reads a Wasm binary. The first error sticks: later reads return
// zero values, and callers check err once after a group of reads.
type reader struct {
	b   []byte
	pos int
	err error
}

func (r *reader) more() bool { return r.err == nil && r.pos < len(r.b) }

func (r *reader) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d: %v", ErrInvalid, what, r.pos, r.err)
}

var errTruncated = fmt.Errorf("truncated")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.err = errTruncated
		return nil
	}
	b := r.b[r.pos : r.pos+n]
	r.pos += n
	return b
}

// leb reads an LEB128 number of at most bits bits, and returns it with
// the last byte read.
func (r *reader) leb(bits int) (v uint64, last byte) {
	for i, shift := 0, 0; i < (bits+6)/7; i, shift = i+1, shift+7 {
		c := r.byte()
		if r.err != nil {
			return 0, 0
		}
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v, c
		}
	}
	r.err = fmt.Errorf("LEB128 number longer than %d bits", bits)
	return 0, 0
}

func (r *reader) u32() uint32 {
	v, _ := r.leb(32)
	if v > 0xffffffff && r.err == nil {
		r.err = fmt.Errorf("u32 out of range")
	}
	return uint32(v)
}

func (r *reader) s32() { r.leb(32) }
func (r *reader) s64() { r.leb(64) }

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

// valType reads a value type: one byte, or a reference type with a heap
// type (typed function references).
func (r *reader) valType() {
	switch c := r.byte(); c {
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.heapType()
	}
}

// heapType reads a heap type: an s33, one byte for the abstract ones.
func (r *reader) heapType() { r.leb(33) }

// blockType reads a block type: empty (0x40), a value type, or a type
// index (s33).
func (r *reader) blockType() {
	if r.more() && (r.b[r.pos] == 0x63 || r.b[r.pos] == 0x64) {
		r.valType()
		return
	}
	r.leb(33)
}

func (r *reader) memArg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(64) // offset (u64 with memory64)
}

func (r *reader) limits() {
	flags := r.byte()
	r.leb(64)
	if flags&0x01 != 0 {
		r.leb(64)
	}
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
