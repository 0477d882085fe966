package audit

import "fmt"

// codeShape is what checkBounds measures of a module's code: for each
// per-function compile limit, the largest value any function has and which
// function that is, and the module-wide sums. Function indexes count
// imported functions first, as the module itself does (the index a
// disassembler shows).
type codeShape struct {
	importedFuncs uint32
	functions     int   // bodies in the code section
	codeBytes     int64 // their sizes, summed

	body    funcMax // body size in bytes
	locals  funcMax // locals declared
	depth   funcMax // control instructions open at once
	brTable funcMax // targets of one br_table, its default not counted

	totalLocals uint64 // locals declared by all functions
	nestingSum  uint64 // over every control instruction, how deep it is
	loopSum     uint64 // over every loop, how many loops it is in, itself included
	brTableSum  uint64 // targets of all br_tables
	kinds       bitStack
}

// funcMax is the largest value of one measure and the first function with it.
type funcMax struct {
	value uint64
	index uint32
}

func (m *funcMax) see(v uint64, index uint32) {
	if v > m.value {
		m.value, m.index = v, index
	}
}

// bitStack records which open control instructions are loops, for the
// first len(bits)*64 levels; deeper ones all count as loops, which can
// only overstate the loop nesting of a function already far deeper than
// any limit allows. It is fixed-size so that no count in the module
// sizes an allocation.
type bitStack struct {
	bits [1024]uint64
}

func (b *bitStack) set(level uint64, loop bool) {
	if level >= uint64(len(b.bits))*64 {
		return
	}
	w, m := level/64, uint64(1)<<(level%64)
	if loop {
		b.bits[w] |= m
	} else {
		b.bits[w] &^= m
	}
}

func (b *bitStack) loop(level uint64) bool {
	if level >= uint64(len(b.bits))*64 {
		return true
	}
	return b.bits[level/64]&(uint64(1)<<(level%64)) != 0
}

// add walks one function body, r, recording its measures. Locals are
// summed in 64 bits: a body has fewer than 2²⁴ local groups of fewer than
// 2³² each, so the sum cannot wrap, whatever counts the groups declare
// ((local 0xffffffff i32) twice is 2³³−2 locals, not 2²).
func (sh *codeShape) add(r *reader) {
	index := sh.importedFuncs + uint32(sh.functions)
	sh.functions++
	sh.codeBytes += int64(r.left())
	sh.body.see(uint64(r.left()), index)

	var locals uint64
	for range r.count("local declaration") {
		locals += uint64(r.u32())
		r.valType()
	}
	sh.totalLocals += locals
	sh.locals.see(locals, index)

	// open counts the control instructions open, the function's own
	// block not counted; loops those of them that are loops.
	var open, loops, deepest, widest uint64
	enter := func(loop bool) {
		sh.kinds.set(open, loop)
		open++
		deepest = max(deepest, open)
		sh.nestingSum += open
		if loop {
			loops++
			sh.loopSum += loops
		}
	}
	leave := func() {
		open--
		if sh.kinds.loop(open) {
			loops--
		}
	}
	for r.err == nil {
		if r.left() == 0 {
			r.fail(fmt.Errorf("function %d: body ends inside a block", index))
			break
		}
		op := r.byte()
		switch op {
		case 0x02, 0x04, 0x06: // block, if, try (legacy exceptions)
			r.blockType()
			enter(false)
		case 0x03: // loop
			r.blockType()
			enter(true)
		case 0x1f: // try_table
			r.blockType()
			for range r.count("catch clause") {
				switch kind := r.byte(); kind {
				case 0x00, 0x01: // catch, catch_ref: tag, label
					r.u32()
					r.u32()
				case 0x02, 0x03: // catch_all, catch_all_ref: label
					r.u32()
				default:
					r.fail(fmt.Errorf("function %d: unsupported catch kind %#x", index, kind))
				}
			}
			enter(false)
		case 0x0b: // end
			if open == 0 {
				if r.left() != 0 && r.err == nil {
					r.fail(fmt.Errorf("function %d: %d bytes after the body's end", index, r.left()))
				}
				sh.depth.see(deepest, index)
				sh.brTable.see(widest, index)
				return
			}
			leave()
		case 0x18: // delegate (legacy exceptions): ends a try
			r.u32()
			if open == 0 {
				r.fail(fmt.Errorf("function %d: delegate outside a try", index))
				break
			}
			leave()
		case 0x0e: // br_table
			n := r.count("br_table target")
			for range n {
				r.u32()
			}
			r.u32()
			widest = max(widest, uint64(n))
			sh.brTableSum += uint64(n)
		default:
			if !r.immediates(op) && r.err == nil {
				r.fail(fmt.Errorf("function %d: unsupported opcode %#x", index, op))
			}
		}
	}
}

// immediates skips the immediates of op, a non-block instruction, and
// reports whether op is one it knows: WebAssembly 2.0, plus the
// exception-handling, tail-call and atomic instructions, whose
// immediates are as easy to skip (wazero rejects them when they are not
// enabled).
func (r *reader) immediates(op byte) bool {
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
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for range r.count("select type") {
			r.valType()
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memArg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41: // i32.const
		r.sleb(5)
	case op == 0x42: // i64.const
		r.sleb(10)
	case op == 0x43: // f32.const
		r.skip(4)
	case op == 0x44: // f64.const
		r.skip(8)
	case op >= 0x45 && op <= 0xc4: // numeric
	case op == 0xd0: // ref.null
		r.sleb(5)
	case op == 0xfc:
		return r.miscImmediates()
	case op == 0xfd:
		return r.simdImmediates()
	case op == 0xfe:
		return r.atomicImmediates()
	default:
		return false
	}
	return true
}

func (r *reader) miscImmediates() bool {
	switch op := r.u32(); {
	case op <= 0x07: // saturating truncations
	case op == 0x08 || op == 0x0a || op == 0x0c || op == 0x0e:
		// memory.init data mem, memory.copy mem mem, table.init elem
		// table, table.copy table table
		r.u32()
		r.u32()
	case op == 0x09 || op == 0x0b || op == 0x0d || (op >= 0x0f && op <= 0x11):
		// data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		return false
	}
	return true
}

func (r *reader) simdImmediates() bool {
	switch op := r.u32(); {
	case op <= 0x0b || op == 0x5c || op == 0x5d: // loads and stores
		r.memArg()
	case op == 0x0c || op == 0x0d: // v128.const, i8x16.shuffle
		r.skip(16)
	case op >= 0x15 && op <= 0x22: // extract_lane, replace_lane
		r.byte()
	case op >= 0x54 && op <= 0x5b: // load_lane, store_lane
		r.memArg()
		r.byte()
	case op <= 0x113: // the rest, relaxed SIMD included
	default:
		return false
	}
	return true
}

func (r *reader) atomicImmediates() bool {
	switch op := r.u32(); {
	case op <= 0x02 || (op >= 0x10 && op <= 0x4e): // notify, waits, loads, stores, read-modify-writes
		r.memArg()
	case op == 0x03: // atomic.fence
		r.byte()
	default:
		return false
	}
	return true
}

// memArg skips an alignment (with the multi-memory flag, a memory index
// follows) and an offset (64 bits with memory64).
func (r *reader) memArg() {
	if r.u32()&0x40 != 0 {
		r.u32()
	}
	r.sleb(10)
}

// valType skips a value type: one byte, or (ref null? heaptype).
func (r *reader) valType() {
	if t := r.byte(); t == 0x63 || t == 0x64 {
		r.sleb(5)
	}
}

// blockType skips a block type: empty (0x40), a value type, or a type
// index (s33).
func (r *reader) blockType() {
	if r.left() > 0 && (r.b[r.pos] == 0x63 || r.b[r.pos] == 0x64) {
		r.valType()
		return
	}
	r.sleb(5)
}
